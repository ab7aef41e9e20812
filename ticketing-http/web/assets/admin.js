// The organiser's dashboard: sign in, pick one of your events, and see its dashboard
// (`/api/v1/events/{id}/dashboard`) drawn: the headline counts, sales by type, occupancy now,
// entries and exits over time, scans per gate and refusals by reason, each an SVG picture with
// its numbers written in it. While the event runs the page counts again every few seconds. The
// exports are fetched with the sign-in's token and saved from memory.
//
// Vue's runtime-only build, one render function; the sign-in and the API calls are `staff.js`'s.
"use strict";
(function () {
  const { createApp, h, reactive } = Vue;
  const root = document.getElementById("app");
  const words = JSON.parse(document.getElementById("words").textContent);
  const t = (key) => words[key] || key;
  const KEY = "ticketing.dashboard";
  const LIVE_EVERY_MS = 5000;
  const lang = document.documentElement.lang;

  const saved = JSON.parse(sessionStorage.getItem(KEY) || "{}");
  const state = reactive({
    session: saved.session || null,
    email: "",
    password: "",
    message: "",
    events: [],
    more: false,
    loading: false,
    event: null,
    board: null,
    saved: "",
  });

  function keep() {
    try {
      sessionStorage.setItem(KEY, JSON.stringify({ session: state.session }));
    } catch (e) {
      // A full or refused storage loses only the sign-in's survival of a reload.
    }
  }

  const { problem } = Staff;
  const staff = Staff.sessions(state, keep, () => reset(t("staff_session_over")));
  const api = staff.api;

  function reset(message) {
    stopCounting();
    eventsTurn += 1;
    state.loading = false;
    state.session = null;
    state.events = [];
    state.event = null;
    state.board = null;
    state.message = message || "";
    keep();
  }

  async function signIn(event) {
    event.preventDefault();
    state.message = "";
    const refused = await staff.signIn(state.email, state.password);
    if (refused) {
      state.message = refused === "limited" ? t("too_many") : refused === "unavailable" ? t("unavailable") : t("staff_signin_refused");
      return;
    }
    state.password = "";
    loadEvents();
  }

  function signOut() {
    staff.signOut();
    reset(t("staff_signed_out"));
  }

  // The events the sign-in reaches, by start, 100 at a time (`more` says whether others follow).
  let eventsTurn = 0;
  async function loadEvents(next) {
    if (next && state.loading) return;
    const mine = ++eventsTurn;
    state.loading = true;
    state.message = "";
    const page = next ? Math.floor(state.events.length / 100) + 1 : 1;
    try {
      const answer = await api("GET", "/api/v1/events?per_page=100&page=" + page);
      if (mine !== eventsTurn) return;
      if (!answer.ok || !answer.data || !Array.isArray(answer.data.items)) {
        state.message = answer.ok ? t("unavailable") : problem(answer);
        return;
      }
      const known = new Set(next ? state.events.map((e) => e.id) : []);
      const fresh = answer.data.items.filter((e) => !known.has(e.id));
      state.events = next ? state.events.concat(fresh) : fresh;
      state.more = !!answer.data.has_more;
      if (state.events.length === 0) state.message = t("admin_no_events");
    } catch (e) {
      if (mine === eventsTurn && state.session) state.message = t("unavailable");
    } finally {
      if (mine === eventsTurn) state.loading = false;
    }
  }

  // --- One event's dashboard -----------------------------------------------------------------

  // Each opening of an event's dashboard takes a turn: a count for another turn is dropped.
  let liveTimer = null;
  let turn = 0;
  function stopCounting() {
    turn += 1;
    clearTimeout(liveTimer);
  }

  function open(event) {
    stopCounting();
    state.event = event;
    state.board = null;
    state.saved = "";
    count(turn);
  }

  function back() {
    stopCounting();
    state.event = null;
    state.board = null;
    if (state.events.length === 0) loadEvents();
  }

  // Counts the event's dashboard; again every few seconds while the event runs (from an hour
  // before its start to its end).
  async function count(mine) {
    const event = state.event;
    if (mine !== turn || !event) return;
    try {
      const answer = await api("GET", "/api/v1/events/" + event.id + "/dashboard?bucket_minutes=15");
      if (mine !== turn) return;
      const b = answer.data;
      const whole = b && ["types", "gates", "flow"].every((k) => Array.isArray(b[k])) && typeof b.inside === "number"
        && typeof b.capacity === "number" && b.refusals && b.revenue_minor;
      if (answer.ok && whole) {
        state.board = b;
        state.message = "";
      } else state.message = answer.ok ? t("unavailable") : problem(answer);
    } catch (e) {
      if (mine !== turn) return;
      if (state.session) state.message = t("unavailable");
    }
    const now = Date.now();
    if (mine === turn && Date.parse(event.starts_at) - 3600000 <= now && now <= Date.parse(event.ends_at)) {
      liveTimer = setTimeout(() => count(mine), LIVE_EVERY_MS);
    }
  }

  // Fetches an export with the sign-in's token (a ZIP of many PDFs may take a while) and saves it.
  async function save(path, name) {
    const mine = turn;
    state.saved = "";
    try {
      const answer = await api("GET", path, null, { blob: true, timeout: 600000 });
      if (mine !== turn) return;
      if (!answer.ok) {
        state.saved = problem(answer);
        return;
      }
      const url = URL.createObjectURL(answer.data);
      const link = document.createElement("a");
      link.href = url;
      link.download = name;
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
      state.saved = t("admin_saved") + ": " + name;
    } catch (e) {
      if (mine === turn && state.session) state.saved = t("unavailable");
    }
  }

  // --- Drawing -------------------------------------------------------------------------------

  const number = (n) => Number(n).toLocaleString(lang);
  // Minor units in the currency's own decimals (2 for EUR, 0 for JPY, 3 for KWD).
  const money = (minor, currency) => {
    const format = new Intl.NumberFormat(lang, { style: "currency", currency, currencyDisplay: "code" });
    return format.format(minor / 10 ** format.resolvedOptions().maximumFractionDigits);
  };
  const time = (at) => new Date(at).toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" });

  // Horizontal bars: one row per item, its label, its bar (an SVG picture, split in parts
  // {value, tone}, against the scale's track) and its numbers in words.
  function bars(label, rows, scale) {
    const max = scale || Math.max(1, ...rows.map((r) => r.parts.reduce((a, p) => a + p.value, 0)));
    return h("ul", { class: "bars", "aria-label": label },
      rows.map((r) => {
        let x = 0;
        const drawn = [h("rect", { x: 0, y: 0, width: 100, height: 10, class: "track" })];
        for (const part of r.parts) {
          const width = (part.value / max) * 100;
          drawn.push(h("rect", { x, y: 0, width, height: 10, class: "bar " + part.tone }));
          x += width;
        }
        return h("li", [
          h("span", { class: "label" }, r.label),
          h("svg", { viewBox: "0 0 100 10", preserveAspectRatio: "none", "aria-hidden": "true" }, drawn),
          h("span", { class: "value" }, r.text),
        ]);
      }),
    );
  }

  // Entries and exits per slice of time, as pairs of columns.
  function flow(board) {
    const slices = board.flow;
    const width = 640;
    const height = 200;
    const max = Math.max(1, ...slices.map((s) => Math.max(s.entries, s.exits)));
    const step = (width - 40) / Math.max(slices.length, 1);
    const column = Math.max(2, Math.min(16, step / 2 - 2));
    const drawn = [];
    slices.forEach((s, i) => {
      const x = 40 + i * step;
      const entries = (s.entries / max) * (height - 40);
      const exits = (s.exits / max) * (height - 40);
      drawn.push(h("rect", { x, y: height - 20 - entries, width: column, height: entries, class: "bar in" }));
      drawn.push(h("rect", { x: x + column + 1, y: height - 20 - exits, width: column, height: exits, class: "bar out" }));
    });
    if (slices.length) {
      drawn.push(h("text", { x: 40, y: height - 4, class: "label" }, time(slices[0].start)));
      drawn.push(h("text", { x: width, y: height - 4, class: "label end" }, time(slices[slices.length - 1].start)));
    }
    drawn.push(h("text", { x: 0, y: 14, class: "label" }, number(max)));
    const total = slices.reduce((a, s) => [a[0] + s.entries, a[1] + s.exits], [0, 0]);
    const label = t("admin_entries") + " " + total[0] + ", " + t("admin_exits") + " " + total[1];
    return h("svg", { viewBox: "0 0 " + width + " " + height, class: "chart", role: "img", "aria-label": label }, drawn);
  }

  function section(id, title, body) {
    return h("section", { class: "card", id }, [h("h2", title), body]);
  }

  function boardView() {
    const event = state.event;
    const b = state.board;
    const head = [
      h("p", [h("button", { type: "button", class: "secondary", id: "admin-back", onClick: back }, t("admin_all_events"))]),
      h("h1", event.title),
    ];
    if (!b) return h("div", head);
    const sold = b.types.reduce((a, ty) => a + ty.sold, 0);
    const revenue = Object.entries(b.revenue_minor).map(([currency, minor]) => money(minor, currency)).join(" · ") || "—";
    const occupancy = b.capacity ? Math.round((b.inside / b.capacity) * 100) : 0;
    const figures = h("dl", { class: "figures" }, [
      h("div", [h("dt", t("admin_sold")), h("dd", { id: "admin-sold" }, number(sold))]),
      h("div", [h("dt", t("admin_inside")), h("dd", { id: "admin-inside" }, number(b.inside))]),
      h("div", [h("dt", t("admin_occupancy")), h("dd", { id: "admin-occupancy" }, occupancy + " %")]),
      h("div", [h("dt", t("admin_revenue")), h("dd", { id: "admin-revenue" }, revenue)]),
    ]);
    const types = bars(
      t("admin_by_type"),
      b.types.map((ty) => ({
        label: ty.name,
        parts: [{ value: ty.sold, tone: "in" }],
        text: number(ty.sold) + " / " + number(ty.quota),
      })),
      Math.max(1, ...b.types.map((ty) => ty.quota)),
    );
    const occupied = bars(t("admin_occupancy"), [
      { label: t("admin_inside"), parts: [{ value: b.inside, tone: "in" }], text: number(b.inside) + " / " + number(b.capacity) },
    ], Math.max(1, b.capacity));
    const gates = b.gates.length
      ? bars(
          t("admin_gates"),
          b.gates.map((g) => ({
            label: g.name,
            parts: [
              { value: g.entries, tone: "in" },
              { value: g.exits, tone: "out" },
              { value: g.refusals, tone: "bad" },
            ],
            text: g.entries + " · " + g.exits + " · " + g.refusals,
          })),
        )
      : h("p", { class: "help" }, t("admin_nothing"));
    const refusals = Object.entries(b.refusals);
    const refused = refusals.length
      ? bars(
          t("admin_refusals"),
          refusals.map(([reason, n]) => ({ label: words["reason_" + reason] || reason, parts: [{ value: n, tone: "bad" }], text: number(n) })),
        )
      : h("p", { class: "help" }, t("admin_nothing"));
    const legend = h("p", { class: "legend" }, [
      h("span", { class: "key in" }, t("admin_entries")),
      h("span", { class: "key out" }, t("admin_exits")),
      h("span", { class: "key bad" }, t("admin_refused")),
    ]);
    const base = "/api/v1/events/" + event.id;
    const exports = h("div", { class: "actions" }, [
      [base + "/participants.csv", "participants.csv", "admin_participants"],
      [base + "/scans.csv", "scans.csv", "admin_scans"],
      [base + "/orders.csv", "orders.csv", "admin_orders"],
      [base + "/tickets.zip", "tickets.zip", "admin_pdfs"],
    ].map(([path, name, label]) => h("button", { type: "button", "data-export": name, onClick: () => save(path, name) }, t(label))));
    return h("div", [
      ...head,
      h("p", { class: "help", id: "admin-counted" }, t("admin_updated") + " " + time(b.at) + " · " + t("admin_live")),
      figures,
      legend,
      section("admin-types", t("admin_by_type"), types),
      section("admin-occupied", t("admin_occupancy"), occupied),
      section("admin-flow", t("admin_flow"), b.flow.length ? flow(b) : h("p", { class: "help" }, t("admin_nothing"))),
      section("admin-gates", t("admin_gates"), gates),
      section("admin-refusals", t("admin_refusals"), refused),
      section("admin-exports", t("admin_exports"), h("div", [exports, state.saved ? h("p", { role: "status", id: "admin-saved" }, state.saved) : null])),
    ]);
  }

  function eventsView() {
    return h("section", [
      h("div", { class: "bar" }, [
        h("h1", t("admin_events")),
        h("button", { type: "button", class: "secondary", id: "admin-signout", onClick: signOut }, t("staff_signout")),
      ]),
      h("ul", { class: "cards" },
        state.events.map((event) =>
          h("li", { class: "card", key: event.id }, [
            h("h2", [h("button", { type: "button", class: "link", "data-event": event.id, onClick: () => open(event) }, event.title)]),
            h("p", new Date(event.starts_at).toLocaleString(lang, { dateStyle: "medium", timeStyle: "short" }) + " · " + event.location),
            h("p", [h("span", { class: "tag" }, t("event_" + event.status))]),
          ]),
        ),
      ),
      state.more
        ? h("button", { type: "button", class: "secondary", id: "admin-more", disabled: state.loading, onClick: () => loadEvents(true) }, t("next"))
        : null,
    ]);
  }

  function signInView() {
    const field = (id, label, props) => [h("label", { for: id }, label), h("input", Object.assign({ id }, props))];
    return h("form", { class: "panel", onSubmit: signIn }, [
      h("h1", t("staff_signin")),
      ...field("admin-email", t("email"), { type: "email", autocomplete: "username", required: true, value: state.email, onInput: (e) => (state.email = e.target.value) }),
      ...field("admin-password", t("staff_password"), { type: "password", autocomplete: "current-password", required: true, value: state.password, onInput: (e) => (state.password = e.target.value) }),
      h("button", { type: "submit", id: "admin-signin" }, t("staff_signin")),
    ]);
  }

  const app = createApp({
    render() {
      const body = !state.session ? signInView() : state.event ? boardView() : eventsView();
      return h("main", { id: "main", class: "dashboard" }, [
        state.message ? h("p", { class: "error", role: "alert" }, state.message) : null,
        body,
      ]);
    },
  });
  root.textContent = "";
  app.mount(root);
  if (state.session) loadEvents();
})();
