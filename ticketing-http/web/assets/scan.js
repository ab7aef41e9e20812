// The gate scanner: sign in, pick a gate, then read tickets from the camera, a keyboard-wedge
// scanner or a typed short code. Every read is a `scan/request`; the verdict fills the screen
// (green, red, amber while waiting, grey when the system cannot answer); In / Out confirm it with
// `scan/confirm`. Nothing is green unless the server said so: a request or a confirmation that
// fails or times out shows "system unavailable — do not admit".
//
// The sign-in and the API calls are `staff.js`'s. Vue's runtime-only build (no template compiler, so the page's CSP needs no 'unsafe-eval'):
// the view is one render function. The words come from the page (`#scanner-words`), in the
// language the server chose.
"use strict";
(function () {
  const { createApp, h, reactive, nextTick } = Vue;
  const root = document.getElementById("app");
  const words = JSON.parse(document.getElementById("words").textContent);
  const t = (key) => words[key] || key;
  const reasonWords = (code) => words["reason_" + code] || code;
  const KEY = "ticketing.scanner";
  // The same text read again within this long of its last read is the same scan.
  const SAME_READ_MS = 3000;
  const LOG_EVERY_MS = 2000;
  const SHORT_CODE = /^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{10}$/;

  const saved = JSON.parse(sessionStorage.getItem(KEY) || "{}");
  const state = reactive({
    session: saved.session || null,
    me: saved.me || null,
    gates: [],
    gate: saved.gate || null,
    email: "",
    password: "",
    message: "",
    verdict: { kind: "ready" },
    log: [],
    counts: saved.counts || { in: 0, out: 0 },
    autoIn: localStorage.getItem(KEY + ".autoIn") === "1",
    camera: false,
    cameraMessage: "",
    manual: "",
    wedge: "",
  });
  // What the tests and the curious read: per read, when it started and when its verdict showed.
  const timings = (window.scannerTimings = []);

  function keep() {
    sessionStorage.setItem(KEY, JSON.stringify({ session: state.session, me: state.me, gate: state.gate, counts: state.counts }));
  }

  const { problem } = Staff;
  const staff = Staff.sessions(state, keep, () => forget(t("staff_session_over")));
  const api = staff.api;

  // --- Signing in and out --------------------------------------------------------------------

  async function signIn(event) {
    event.preventDefault();
    state.message = "";
    unlockSound();
    const refused = await staff.signIn(state.email, state.password);
    if (refused) {
      state.message = refused === "limited" ? t("too_many") : refused === "unavailable" ? t("scan_unavailable") : t("staff_signin_refused");
      return;
    }
    state.password = "";
    state.counts = { in: 0, out: 0 };
    try {
      const me = await api("GET", "/api/v1/me");
      if (me.ok) state.me = await me.json();
    } catch (e) {
      // The name is a courtesy: scanning works without it.
    }
    keep();
    loadGates();
  }

  function forget(message) {
    stopCamera();
    state.session = null;
    state.me = null;
    state.gate = null;
    state.gates = [];
    state.log = [];
    state.verdict = { kind: "ready" };
    state.message = message || "";
    keep();
  }

  function signOut() {
    staff.signOut();
    forget(t("staff_signed_out"));
  }

  // --- Gates ---------------------------------------------------------------------------------

  async function loadGates() {
    state.message = "";
    try {
      const res = await api("GET", "/api/v1/scan/gates");
      if (!res.ok) {
        state.message = await problem(res);
        return;
      }
      state.gates = await res.json();
      if (state.gates.length === 1 && !state.gate) pick(state.gates[0]);
      if (state.gates.length === 0) state.message = t("scan_no_gates");
    } catch (e) {
      if (state.session) state.message = t("scan_unavailable");
    }
  }

  function pick(gate) {
    unlockSound();
    state.gate = { id: gate.id, name: gate.name, event_title: gate.event_title };
    state.verdict = { kind: "ready" };
    keep();
    refreshLog();
    focusWedge();
  }

  function changeGate() {
    stopCamera();
    state.gate = null;
    state.log = [];
    keep();
    loadGates();
  }

  // --- Reading and deciding ------------------------------------------------------------------

  let last = { text: "", at: 0 };
  let current = 0;

  // A read from any input: the same text again within SAME_READ_MS of its last read is the same
  // scan (a QR held in front of the camera is read many times a second).
  function read(text, source, started) {
    text = (text || "").trim();
    if (!text || !state.gate) return;
    const now = performance.now();
    if (text === last.text && now - last.at < SAME_READ_MS) {
      last.at = now;
      return;
    }
    last = { text, at: now };
    const compact = text.replace(/[-\s]/g, "").toUpperCase();
    const body = source === "manual" || SHORT_CODE.test(compact) ? { short_code: text } : { qr: text };
    body.gate_id = state.gate.id;
    request(body, { source, started: started === undefined ? now : started });
  }

  function show(verdict, timing) {
    state.verdict = verdict;
    // A hardware scanner types into the focused field: give it back the focus after each verdict,
    // unless the agent is typing a code.
    if (verdict.kind !== "wait" && document.activeElement?.id !== "scanner-manual") focusWedge();
    if (timing) {
      // The verdict is on screen once the next frame is painted.
      nextTick(() =>
        requestAnimationFrame(() => {
          timing.shown = performance.now();
          timing.kind = verdict.kind;
          timing.reason = verdict.reason;
          timings.push(timing);
        }),
      );
    }
  }

  function down(timing) {
    show({ kind: "down", title: t("scan_unavailable"), detail: t("scan_do_not_admit") }, timing);
    feedback(false);
  }

  async function refused(res, timing) {
    const title = res.status === 429 ? t("too_many") : res.status >= 500 ? t("scan_unavailable") : await problem(res);
    const kind = res.status >= 500 ? "down" : "bad";
    show({ kind, title, detail: t("scan_do_not_admit") }, timing);
    feedback(false);
  }

  async function request(body, timing) {
    const mine = ++current;
    show({ kind: "wait", title: t("scan_checking") });
    let res;
    try {
      res = await api("POST", "/api/v1/scan/request", body);
    } catch (e) {
      if (mine === current && state.session) down(timing);
      return;
    }
    if (mine !== current) return;
    if (!res.ok) return refused(res, timing);
    const v = await res.json();
    if (mine !== current) return;
    const entering = v.ok && v.allowed.includes("in");
    const verdict = {
      kind: entering ? "ok" : v.ok ? "exit" : "bad",
      reason: v.reason,
      title: entering ? t("scan_valid") : v.ok ? t("scan_inside_exit") : reasonWords(v.reason),
      detail: entering || v.ok ? null : t("scan_do_not_admit"),
      ticket: v.ticket,
      allowed: v.ok ? v.allowed : [],
      token: v.scan_session_token,
      nonce: null,
    };
    show(verdict, timing);
    feedback(entering);
    if (entering && state.autoIn) confirm("in");
  }

  function nonce() {
    const bytes = crypto.getRandomValues(new Uint8Array(12));
    return "scan-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // Applies the shown verdict in `direction`. A retry after a failure sends the same nonce: the
  // server applies a confirmation once, whatever number of times it arrives.
  async function confirm(direction) {
    const before = state.verdict;
    if (!before.token) return;
    before.nonce = before.nonce || nonce();
    const mine = ++current;
    const timing = { source: "confirm", started: performance.now() };
    show({ kind: "wait", title: t("scan_confirming"), ticket: before.ticket });
    let res;
    try {
      res = await api("POST", "/api/v1/scan/confirm", {
        gate_id: state.gate.id,
        scan_session_token: before.token,
        direction,
        nonce: before.nonce,
      });
    } catch (e) {
      if (mine === current && state.session) {
        show({ kind: "down", title: t("scan_unavailable"), detail: t("scan_do_not_admit"), retry: { verdict: before, direction } }, timing);
        feedback(false);
      }
      return;
    }
    if (mine !== current) return;
    if (!res.ok) {
      if (res.status >= 500) {
        show({ kind: "down", title: t("scan_unavailable"), detail: t("scan_do_not_admit"), retry: { verdict: before, direction } }, timing);
        feedback(false);
        return;
      }
      return refused(res, timing);
    }
    const r = await res.json();
    if (mine !== current) return;
    if (r.ok) {
      if (!r.replayed || !before.counted) state.counts[direction] += 1;
      before.counted = true;
      keep();
      show({ kind: "done", direction, title: direction === "in" ? t("scan_entered") : t("scan_left"), ticket: before.ticket }, timing);
      feedback(true);
    } else {
      show({ kind: "bad", reason: r.reason, title: reasonWords(r.reason), detail: t("scan_do_not_admit"), ticket: before.ticket }, timing);
      feedback(false);
    }
    refreshLog();
  }

  function retry() {
    const again = state.verdict.retry;
    if (!again) return;
    state.verdict = again.verdict;
    confirm(again.direction);
  }

  // --- The gate's log ------------------------------------------------------------------------

  let logTimer = null;
  async function refreshLog() {
    clearTimeout(logTimer);
    if (state.session && state.gate) {
      try {
        const res = await api("GET", "/api/v1/scan/logs?limit=15&gate_id=" + encodeURIComponent(state.gate.id));
        if (res.ok) state.log = await res.json();
      } catch (e) {
        // The verdicts say when the system is down; the log just waits for the next turn.
      }
    }
    logTimer = setTimeout(refreshLog, LOG_EVERY_MS);
  }

  // --- Sound and vibration -------------------------------------------------------------------

  let audio = null;
  function unlockSound() {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!audio && Context) audio = new Context();
  }

  function feedback(good) {
    if (navigator.vibrate) navigator.vibrate(good ? 80 : [200, 100, 200]);
    if (!audio) return;
    const notes = good ? [[880, 0, 0.12]] : [[220, 0, 0.2], [220, 0.28, 0.2]];
    for (const [frequency, at, length] of notes) {
      const tone = audio.createOscillator();
      const gain = audio.createGain();
      tone.frequency.value = frequency;
      gain.gain.value = 0.2;
      tone.connect(gain).connect(audio.destination);
      tone.start(audio.currentTime + at);
      tone.stop(audio.currentTime + at + length);
    }
  }

  // --- The camera ----------------------------------------------------------------------------

  let stream = null;
  let worker = null;
  let decoding = false;
  let lastGrab = null;
  const canvas = document.createElement("canvas");
  const drawing = canvas.getContext("2d", { willReadFrequently: true });

  async function startCamera() {
    unlockSound();
    state.cameraMessage = "";
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    } catch (e) {
      state.cameraMessage = t("scan_camera_refused");
      return;
    }
    if (!worker) {
      worker = new Worker(root.dataset.worker);
      worker.onmessage = (message) => {
        decoding = false;
        const found = message.data;
        if (found.text) read(found.text, "camera", found.previous);
      };
    }
    state.camera = true;
    lastGrab = performance.now();
    await nextTick();
    const video = document.getElementById("scanner-video");
    video.srcObject = stream;
    await video.play().catch(() => {});
    grab(video);
  }

  // Sends the camera's current frame to the decoder, once the previous one is decoded. A read
  // carries the time of the grab before its own: the QR appeared after it, so the time from it
  // to the verdict bounds the time from the QR's appearance to the verdict.
  function grab(video) {
    if (!state.camera) return;
    if (!decoding && video.videoWidth) {
      const scale = Math.min(1, 640 / video.videoWidth);
      const width = Math.round(video.videoWidth * scale);
      const height = Math.round(video.videoHeight * scale);
      canvas.width = width;
      canvas.height = height;
      drawing.drawImage(video, 0, 0, width, height);
      const pixels = drawing.getImageData(0, 0, width, height).data.buffer;
      decoding = true;
      const now = performance.now();
      worker.postMessage({ pixels, width, height, at: now, previous: lastGrab }, [pixels]);
      lastGrab = now;
    }
    setTimeout(() => grab(video), 15);
  }

  function stopCamera() {
    state.camera = false;
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
  }

  // --- The view ------------------------------------------------------------------------------

  function focusWedge() {
    nextTick(() => {
      const field = document.getElementById("scanner-wedge");
      if (field) field.focus();
    });
  }

  function field(id, label, props) {
    return [h("label", { for: id }, label), h("input", Object.assign({ id }, props))];
  }

  function signInView() {
    return h("form", { class: "panel", onSubmit: signIn }, [
      h("h1", t("staff_signin")),
      ...field("scanner-email", t("email"), {
        type: "email",
        autocomplete: "username",
        required: true,
        value: state.email,
        onInput: (e) => (state.email = e.target.value),
      }),
      ...field("scanner-password", t("staff_password"), {
        type: "password",
        autocomplete: "current-password",
        required: true,
        value: state.password,
        onInput: (e) => (state.password = e.target.value),
      }),
      h("button", { type: "submit", id: "scanner-signin" }, t("staff_signin")),
    ]);
  }

  function gatesView() {
    return h("section", { class: "panel" }, [
      h("h1", t("scan_pick_gate")),
      h(
        "ul",
        { class: "gates" },
        state.gates.map((gate) =>
          h("li", { key: gate.id }, [
            h("button", { type: "button", class: "gate", "data-gate": gate.id, onClick: () => pick(gate) }, [
              h("strong", gate.name),
              h("span", gate.event_title),
            ]),
          ]),
        ),
      ),
    ]);
  }

  const ICONS = { ok: "✔", done: "✔", bad: "✖", down: "⚠", wait: "…", exit: "⇦", ready: "▣" };

  function verdictView() {
    const v = state.verdict;
    const title = v.kind === "ready" ? t("scan_ready") : v.title;
    const parts = [h("span", { class: "icon", "aria-hidden": "true" }, ICONS[v.kind]), h("p", { class: "title" }, title)];
    if (v.detail) parts.push(h("p", { class: "detail" }, v.detail));
    if (v.ticket) {
      const ticket = v.ticket;
      parts.push(
        h("dl", { class: "ticket" }, [
          h("dt", t("scan_holder")),
          h("dd", ticket.holder_name || "—"),
          h("dt", t("ticket_type")),
          h("dd", ticket.ticket_type),
          h("dt", t("scan_entries")),
          h("dd", ticket.entries_used + " / " + ticket.entries_allowed),
          h("dt", t("code")),
          h("dd", { class: "code" }, ticket.short_code),
        ]),
      );
    }
    const buttons = [];
    for (const direction of v.allowed || []) {
      buttons.push(
        h("button", { type: "button", class: "direction " + direction, id: "scanner-" + direction, onClick: () => confirm(direction) },
          direction === "in" ? t("scan_in") : t("scan_out")),
      );
    }
    if (v.retry) buttons.push(h("button", { type: "button", id: "scanner-retry", onClick: retry }, t("scan_retry")));
    if (buttons.length) parts.push(h("div", { class: "directions" }, buttons));
    return h("section", { class: "verdict " + v.kind, id: "scanner-verdict", "data-kind": v.kind, "data-reason": v.reason || "", role: "status", "aria-live": "assertive" }, parts);
  }

  function inputsView() {
    const wedge = h("form", {
      class: "read",
      onSubmit: (e) => {
        e.preventDefault();
        const text = state.wedge;
        state.wedge = "";
        read(text, "wedge", e.timeStamp);
      },
    }, [
      ...field("scanner-wedge", t("scan_wedge"), {
        autocomplete: "off",
        autocapitalize: "off",
        spellcheck: false,
        value: state.wedge,
        onInput: (e) => (state.wedge = e.target.value),
      }),
    ]);
    const manual = h("form", {
      class: "read",
      onSubmit: (e) => {
        e.preventDefault();
        const text = state.manual;
        state.manual = "";
        last = { text: "", at: 0 };
        read(text, "manual", e.timeStamp);
      },
    }, [
      ...field("scanner-manual", t("scan_manual"), {
        autocomplete: "off",
        autocapitalize: "characters",
        placeholder: "26H5A-JV4X2",
        value: state.manual,
        onInput: (e) => (state.manual = e.target.value),
      }),
      h("button", { type: "submit", id: "scanner-check" }, t("scan_check")),
    ]);
    const camera = h("div", { class: "camera" }, [
      h("button", { type: "button", id: "scanner-camera", onClick: state.camera ? stopCamera : startCamera },
        state.camera ? t("scan_camera_stop") : t("scan_camera_start")),
      state.cameraMessage ? h("p", { class: "error" }, state.cameraMessage) : null,
      state.camera ? h("video", { id: "scanner-video", muted: true, playsinline: true, "aria-label": t("scan_camera") }) : null,
    ]);
    const auto = h("label", { class: "check" }, [
      h("input", {
        type: "checkbox",
        id: "scanner-auto",
        checked: state.autoIn,
        onChange: (e) => {
          state.autoIn = e.target.checked;
          localStorage.setItem(KEY + ".autoIn", state.autoIn ? "1" : "0");
        },
      }),
      " " + t("scan_auto_in"),
    ]);
    return h("section", { class: "inputs" }, [camera, wedge, manual, auto]);
  }

  function logView() {
    const time = (at) => new Date(at).toLocaleTimeString(document.documentElement.lang, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
    return h("section", { class: "log" }, [
      h("h2", t("scan_log")),
      state.log.length === 0
        ? h("p", { class: "help" }, t("scan_log_empty"))
        : h("ol", { id: "scanner-log" },
            state.log.map((line, i) =>
              h("li", { key: line.at + i, "data-reason": line.reason, "data-direction": line.direction || "" }, [
                h("time", { datetime: line.at }, time(line.at)),
                " ",
                line.stage === "confirm" ? (line.direction === "in" ? t("scan_in") : t("scan_out")) + " · " : "",
                line.reason === "ok" ? t("reason_ok") : reasonWords(line.reason),
              ]),
            ),
          ),
    ]);
  }

  function scanView() {
    return [
      h("header", { class: "bar" }, [
        h("p", [h("strong", state.gate.name), " · ", state.gate.event_title]),
        h("p", { id: "scanner-counts" }, t("scan_in") + " " + state.counts.in + " · " + t("scan_out") + " " + state.counts.out),
        h("div", { class: "actions" }, [
          h("button", { type: "button", class: "secondary", onClick: changeGate }, t("scan_change_gate")),
          h("button", { type: "button", class: "secondary", id: "scanner-signout", onClick: signOut }, t("staff_signout")),
        ]),
      ]),
      verdictView(),
      inputsView(),
      logView(),
    ];
  }

  const app = createApp({
    render() {
      const body = !state.session ? signInView() : !state.gate ? gatesView() : scanView();
      return h("main", { id: "main", class: "scanner" }, [
        state.message ? h("p", { class: "error", role: "alert", id: "scanner-message" }, state.message) : null,
        body,
      ]);
    },
  });
  root.textContent = "";
  app.mount(root);
  if (state.session && !state.gate) loadGates();
  if (state.session && state.gate) {
    refreshLog();
    focusWedge();
  }
})();
