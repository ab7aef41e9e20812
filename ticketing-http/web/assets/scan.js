// The gate scanner: sign in, pick a gate, then read tickets from the camera, a keyboard-wedge
// scanner or a typed short code. Every read is a `scan/request`; the verdict fills the screen
// (green, red, amber while waiting, blue for exit only, dark when the system cannot answer);
// In / Out confirm it with `scan/confirm`. Nothing is green unless the server said so: a request
// or a confirmation that fails, times out or answers something unreadable shows "system
// unavailable — do not admit", and a green verdict does not outlive its session.
//
// The sign-in and the API calls are `staff.js`'s. Vue's runtime-only build (no template
// compiler, so the page's CSP needs no 'unsafe-eval'): the view is one render function. The words
// come from the page (`#words`), in the language the server chose.
"use strict";
(function () {
  const { createApp, h, reactive, nextTick } = Vue;
  const root = document.getElementById("app");
  const words = JSON.parse(document.getElementById("words").textContent);
  const t = (key) => words[key] || key;
  const reasonWords = (code) => words["reason_" + code] || code;
  const KEY = "ticketing.scanner";
  // A QR held to the camera is read many times a second: the same text again within this long of
  // its last read is the same scan.
  const SAME_READ_MS = 3000;
  const LOG_EVERY_MS = 2000;
  // How long an applied entry or exit stays on screen before the scanner is ready again.
  const DONE_FOR_MS = 4000;
  const SHORT_CODE = /^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{10}$/;

  const saved = JSON.parse(sessionStorage.getItem(KEY) || "{}");
  // A gate kept by an older page lacks its event: pick it again.
  if (saved.gate && !saved.gate.event_id) saved.gate = null;
  const state = reactive({
    session: saved.session || null,
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
  // What the tests and the curious read: per read, when it started and when its verdict was
  // painted (the last 200).
  const timings = (window.scannerTimings = []);

  // Saves the sign-in, the gate and the counts for this tab (a reload keeps them). A full or
  // refused storage loses only that.
  function keep() {
    try {
      sessionStorage.setItem(KEY, JSON.stringify({ session: state.session, gate: state.gate, counts: state.counts }));
    } catch (e) {
      // Scanning goes on.
    }
  }

  const { problem } = Staff;
  const staff = Staff.sessions(state, keep, () => forget(t("staff_session_over")));
  const api = staff.api;

  // Every step that shows a verdict takes a turn; an answer that arrives after a newer turn began
  // (another read, a gate change, a sign-out) is not shown. Each sign-in is an epoch: a
  // confirmation answered after it ended counts for nobody.
  let current = 0;
  let epoch = 0;

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
    keep();
    loadGates();
  }

  function leaveGate() {
    current += 1;
    confirming = 0;
    held = false;
    stopCamera();
    stopLog();
    clearTimeout(settleTimer);
    deferred = null;
    state.verdict = { kind: "ready" };
    state.log = [];
  }

  function forget(message) {
    epoch += 1;
    gatesTurn += 1;
    leaveGate();
    state.session = null;
    state.gate = null;
    state.gates = [];
    state.message = message || "";
    keep();
  }

  function signOut() {
    staff.signOut();
    forget(t("staff_signed_out"));
  }

  // --- Gates ---------------------------------------------------------------------------------

  let gatesTurn = 0;
  async function loadGates() {
    const mine = ++gatesTurn;
    state.message = "";
    try {
      const answer = await api("GET", "/api/v1/scan/gates");
      if (mine !== gatesTurn) return;
      if (!answer.ok || !Array.isArray(answer.data)) {
        state.message = answer.ok ? t("scan_unavailable") : problem(answer);
        return;
      }
      state.gates = answer.data;
      if (state.gates.length === 1 && !state.gate) pick(state.gates[0]);
      if (state.gates.length === 0) state.message = t("scan_no_gates");
    } catch (e) {
      if (mine === gatesTurn && state.session) state.message = t("scan_unavailable");
    }
  }

  function pick(gate) {
    unlockSound();
    leaveGate();
    state.gate = { id: gate.id, name: gate.name, event_id: gate.event_id, event_title: gate.event_title };
    keep();
    refreshLog();
    focusWedge();
  }

  function changeGate() {
    leaveGate();
    state.gate = null;
    keep();
    loadGates();
  }

  // --- Reading and deciding ------------------------------------------------------------------

  // Camera reads: each text with the time it was last read (see SAME_READ_MS).
  const seen = new Map();
  // A read typed while a confirmation is on its way: it runs once the confirmation applied (a
  // failed one stays on screen, and the read is dropped: the agent reads again).
  let deferred = null;
  // The turn of the confirmation on its way (0: none).
  let confirming = 0;
  // A confirmation failed: the camera waits until the agent acts (retry, next, or a typed read).
  let held = false;

  function read(text, source, started) {
    text = (text || "").trim();
    if (!text || !state.gate) return;
    const now = performance.now();
    if (source === "camera") {
      const last = seen.get(text);
      seen.set(text, now);
      if (last !== undefined && now - last < SAME_READ_MS) return;
      if (seen.size > 50) {
        for (const [known, at] of seen) if (now - at >= SAME_READ_MS) seen.delete(known);
      }
    }
    if (confirming) {
      // The camera reads again once the confirmation is shown; a typed read waits for it.
      if (source !== "camera") deferred = [text, source, started];
      else seen.delete(text);
      return;
    }
    if (held) {
      if (source === "camera") {
        seen.delete(text);
        return;
      }
      held = false;
    }
    const compact = text.replace(/[-\s]/g, "").toUpperCase();
    const body = source === "manual" || SHORT_CODE.test(compact) ? { short_code: text } : { qr: text };
    body.gate_id = state.gate.id;
    request(body, { source, started: started === undefined ? now : started });
  }

  // Shows `verdict`; with `timing`, records when it was painted. A green or blue verdict lasts
  // as long as its session; an applied entry or exit a few seconds.
  let settleTimer = null;
  function show(verdict, timing) {
    state.verdict = verdict;
    clearTimeout(settleTimer);
    const turn = current;
    if (verdict.kind === "done") {
      settleTimer = setTimeout(() => turn === current && (state.verdict = { kind: "ready" }), DONE_FOR_MS);
    } else if (verdict.kind === "ok" || verdict.kind === "exit") {
      settleTimer = setTimeout(() => expire(turn), Math.max(verdict.until - performance.now(), 0));
    }
    if (timing) {
      // The verdict is on screen once the next frame is painted.
      nextTick(() =>
        requestAnimationFrame(() => {
          timing.shown = performance.now();
          timing.kind = verdict.kind;
          timing.reason = verdict.reason;
          timings.push(timing);
          if (timings.length > 200) timings.shift();
        }),
      );
    }
    if (verdict.kind !== "wait" && document.activeElement?.id !== "scanner-manual") focusWedge();
  }

  // A green or blue verdict whose session ran out: red, read again.
  function expire(turn) {
    if (turn !== current) return;
    current += 1;
    show({ kind: "bad", reason: "session_expired", title: reasonWords("session_expired"), detail: t("scan_do_not_admit") });
  }

  // A page hidden or frozen runs no timer: back on screen, a lapsed session is said at once.
  document.addEventListener("visibilitychange", () => {
    const v = state.verdict;
    if (document.visibilityState === "visible" && (v.kind === "ok" || v.kind === "exit") && performance.now() >= v.until) {
      expire(current);
    }
  });

  function down(timing, retry) {
    show({ kind: "down", title: t("scan_unavailable"), detail: t("scan_do_not_admit"), retry, next: !!retry }, timing);
    feedback(false);
  }

  function refused(answer, timing, retry) {
    if (answer.status >= 500) return down(timing, retry);
    const title = answer.status === 429 ? t("too_many") : problem(answer);
    show({ kind: "bad", title, detail: t("scan_do_not_admit"), retry, next: !!retry }, timing);
    feedback(false);
  }

  async function request(body, timing) {
    const mine = ++current;
    show({ kind: "wait", title: t("scan_checking") });
    let answer;
    try {
      answer = await api("POST", "/api/v1/scan/request", body);
    } catch (e) {
      // Signed out here, the page has moved on; otherwise the system did not answer.
      if (mine === current && state.session) down(timing);
      return;
    }
    if (mine !== current) return;
    if (!answer.ok) return refused(answer, timing);
    const v = answer.data;
    if (!v || typeof v.ok !== "boolean" || !Array.isArray(v.allowed) || typeof v.reason !== "string") return down(timing);
    // How long the session lasts, by the server's own clock (its `Date` header, to the second:
    // a second less), counted from now on this device's.
    const expires = Date.parse(v.expires_at);
    const lasts = Number.isNaN(expires) ? 0 : expires - (answer.date || Date.now()) - 1000;
    const usable = !!v.scan_session_token && lasts > 0;
    const entering = v.ok && usable && v.allowed.includes("in");
    const leaving = v.ok && usable && !entering && v.allowed.includes("out");
    const verdict = {
      kind: entering ? "ok" : leaving ? "exit" : "bad",
      reason: v.reason,
      title: entering ? t("scan_valid") : leaving ? t("scan_inside_exit") : reasonWords(v.reason),
      detail: entering || leaving ? null : t("scan_do_not_admit"),
      ticket: v.ticket,
      allowed: entering || leaving ? v.allowed : [],
      token: v.scan_session_token,
      until: performance.now() + Math.min(lasts, 600000),
      gate_id: body.gate_id,
      nonce: null,
      counted: false,
    };
    show(verdict, timing);
    feedback(entering);
    if (entering && state.autoIn) confirm("in", verdict);
  }

  function nonce() {
    const bytes = crypto.getRandomValues(new Uint8Array(12));
    return "scan-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // Applies `before` (a verdict with a session) in `direction`. A retry after a failure sends the
  // same nonce: the server applies a confirmation once, however many times it arrives. While it
  // is on its way, reads wait (see `read`).
  async function confirm(direction, before) {
    if (!before || !before.token || confirming) return;
    before.nonce = before.nonce || nonce();
    const mine = ++current;
    const era = epoch;
    confirming = mine;
    held = false;
    const timing = { source: "confirm", started: performance.now() };
    show({ kind: "wait", title: t("scan_confirming"), ticket: before.ticket });
    let answer = null;
    try {
      answer = await api("POST", "/api/v1/scan/confirm", {
        gate_id: before.gate_id,
        scan_session_token: before.token,
        direction,
        nonce: before.nonce,
      });
    } catch (e) {
      answer = null;
    }
    if (confirming === mine) confirming = 0;
    const result = answer && answer.ok ? answer.data : null;
    const applied = !!result && result.ok === true;
    // Counted whatever is shown now (the entry happened), for the sign-in that made it.
    if (applied && era === epoch && !(result.replayed && before.counted)) {
      state.counts[direction] += 1;
      before.counted = true;
      keep();
    }
    if (mine !== current || !state.session) return;
    const retry = { verdict: before, direction };
    if (applied) {
      show({ kind: "done", direction, title: direction === "in" ? t("scan_entered") : t("scan_left"), ticket: before.ticket }, timing);
      feedback(true);
    } else {
      // Not applied: the screen says so until the agent acts.
      held = true;
      deferred = null;
      if (!answer) {
        down(timing, retry);
      } else if (!answer.ok) {
        refused(answer, timing, retry);
      } else if (!result || typeof result.ok !== "boolean" || typeof result.reason !== "string") {
        down(timing, retry);
      } else {
        show({ kind: "bad", reason: result.reason, title: reasonWords(result.reason), detail: t("scan_do_not_admit"), ticket: before.ticket, next: true }, timing);
        feedback(false);
      }
    }
    refreshLog();
    if (deferred) {
      const [text, source, started] = deferred;
      deferred = null;
      read(text, source, started);
    }
  }

  // The agent is done with a failed confirmation: the camera reads again.
  function next() {
    held = false;
    current += 1;
    show({ kind: "ready" });
  }

  function retry() {
    const again = state.verdict.retry;
    if (again) confirm(again.direction, again.verdict);
  }

  // --- The gate's log ------------------------------------------------------------------------

  let logTimer = null;
  let logTurn = 0;
  function stopLog() {
    logTurn += 1;
    clearTimeout(logTimer);
  }

  async function refreshLog() {
    stopLog();
    const turn = logTurn;
    const gate = state.gate;
    if (!state.session || !gate) return;
    try {
      const query = "?limit=15&event_id=" + encodeURIComponent(gate.event_id) + "&gate_id=" + encodeURIComponent(gate.id);
      const answer = await api("GET", "/api/v1/scan/logs" + query);
      if (turn === logTurn && answer.ok && Array.isArray(answer.data)) state.log = answer.data;
    } catch (e) {
      // The verdicts say when the system is down; the log waits for its next turn.
    }
    if (turn === logTurn && state.session) logTimer = setTimeout(refreshLog, LOG_EVERY_MS);
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

  let cameraTurn = 0;
  let stream = null;
  let worker = null;
  let decoding = false;
  let lastGrab = null;
  const canvas = document.createElement("canvas");
  const drawing = canvas.getContext("2d", { willReadFrequently: true });

  async function startCamera() {
    if (state.camera) return;
    unlockSound();
    const turn = ++cameraTurn;
    state.camera = true;
    state.cameraMessage = "";
    let opened;
    try {
      opened = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    } catch (e) {
      if (turn === cameraTurn) {
        state.camera = false;
        state.cameraMessage = t("scan_camera_refused");
      }
      return;
    }
    if (turn !== cameraTurn) {
      opened.getTracks().forEach((track) => track.stop());
      return;
    }
    stream = opened;
    if (!worker) {
      try {
        worker = new Worker(root.dataset.worker);
      } catch (e) {
        opened.getTracks().forEach((track) => track.stop());
        cameraFailed();
        return;
      }
      worker.onmessage = (message) => {
        const found = message.data;
        if (found.turn !== cameraTurn) return;
        decoding = false;
        if (found.text) read(found.text, "camera", found.previous);
      };
      worker.onerror = () => {
        worker = null;
        cameraFailed();
      };
    }
    opened.getTracks().forEach((track) => track.addEventListener("ended", () => turn === cameraTurn && cameraFailed()));
    // A new start is a new look: what the camera saw before is forgotten.
    seen.clear();
    decoding = false;
    lastGrab = performance.now();
    await nextTick();
    const video = document.getElementById("scanner-video");
    if (!video || turn !== cameraTurn) return;
    video.srcObject = stream;
    await video.play().catch(() => {});
    grab(video, turn);
  }

  // Sends the camera's current frame to the decoder, once the previous one is decoded. A read
  // carries the time of the grab before its own: the QR appeared after it, so the time from it
  // to the verdict bounds the time from the QR's appearance to the verdict.
  function grab(video, turn) {
    if (turn !== cameraTurn) return;
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
      worker.postMessage({ pixels, width, height, turn, previous: lastGrab }, [pixels]);
      lastGrab = now;
    }
    setTimeout(() => grab(video, turn), 15);
  }

  // The camera or its decoder stopped by itself: said, and off.
  function cameraFailed() {
    stopCamera();
    state.cameraMessage = t("scan_camera_failed");
  }

  function stopCamera() {
    cameraTurn += 1;
    state.camera = false;
    decoding = false;
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
  }

  // --- The view ------------------------------------------------------------------------------

  // A keyboard-wedge scanner types into the focused field: it gets the focus back after each
  // verdict (`inputmode="none"`: on a phone this opens no on-screen keyboard).
  function focusWedge() {
    nextTick(() => {
      const field = document.getElementById("scanner-wedge");
      if (field) field.focus({ preventScroll: true });
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
      h("button", { type: "button", class: "secondary", onClick: signOut }, t("staff_signout")),
    ]);
  }

  const ICONS = { ok: "✔", done: "✔", bad: "✖", down: "⚠", wait: "…", exit: "⇦", ready: "▣" };

  function verdictView() {
    const v = state.verdict;
    const title = v.kind === "ready" ? t("scan_ready") : v.title;
    const said = [h("span", { class: "icon", "aria-hidden": "true" }, ICONS[v.kind]), h("p", { class: "title" }, title)];
    if (v.detail) said.push(h("p", { class: "detail" }, v.detail));
    if (v.ticket) {
      const ticket = v.ticket;
      said.push(
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
    const buttons = (v.allowed || []).map((direction) =>
      h("button", { type: "button", class: "direction " + direction, id: "scanner-" + direction, onClick: () => confirm(direction, v) },
        direction === "in" ? t("scan_in") : t("scan_out")),
    );
    if (v.retry) buttons.push(h("button", { type: "button", id: "scanner-retry", onClick: retry }, t("scan_retry")));
    if (v.next) buttons.push(h("button", { type: "button", id: "scanner-next", onClick: next }, t("scan_next")));
    return h("section", { class: "verdict " + v.kind, id: "scanner-verdict", "data-kind": v.kind, "data-reason": v.reason || "" }, [
      h("div", { "aria-live": "assertive", "aria-atomic": "true" }, said),
      buttons.length ? h("div", { class: "directions" }, buttons) : null,
    ]);
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
        inputmode: "none",
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
      h("button", { type: "button", id: "scanner-camera", "aria-pressed": state.camera ? "true" : "false", onClick: state.camera ? stopCamera : startCamera },
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
                reasonWords(line.reason),
              ]),
            ),
          ),
    ]);
  }

  function scanView() {
    return [
      h("header", { class: "bar" }, [
        h("h1", [h("strong", state.gate.name), " · ", state.gate.event_title]),
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
