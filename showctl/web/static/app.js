// showctl class screen: renders the state the server pushes over one WebSocket; buttons send messages back.
// A dropped connection reconnects with backoff, and the first message after it is the whole state (resync).
"use strict";

const $ = (id) => document.getElementById(id);
const metrics = { loadedAt: performance.now(), firstStateAt: null, states: 0, lastSeq: 0, reconnects: 0,
  clockOffset: null, clockRtt: null, taps: [] };
window.showctl = metrics;

let socket = null;
let retry = 0;
let role = null;
let lastClasses = "";
let previewVersion = null;
let qrVersion = null;
let pairDeadline = null; // performance.now() when the pairing link shown stops working
let pressCount = 0;
const myPresses = new Set();

// The server's clock (time.monotonic, ms) = performance.now() + offset, from the ping/pong round trip with the
// shortest time (half of it each way): live taps are stamped where the finger was, not where the Wi-Fi put them.
const sync = { pings: new Map(), samples: [] };
function ping() {
  if (!socket || socket.readyState !== WebSocket.OPEN) return;
  const id = `clk-${(pressCount++).toString(36)}`;
  sync.pings.set(id, performance.now());
  socket.send(JSON.stringify({ type: "ping", id }));
}
function pong(message) {
  const sent = sync.pings.get(message.id);
  if (sent === undefined || typeof message.clock !== "number") return;
  sync.pings.delete(message.id);
  const now = performance.now();
  sync.samples.push({ rtt: now - sent, offset: message.clock * 1000 - (sent + now) / 2 });
  if (sync.samples.length > 12) sync.samples.shift();
  const best = sync.samples.reduce((a, b) => (b.rtt < a.rtt ? b : a));
  metrics.clockOffset = best.offset;
  metrics.clockRtt = best.rtt;
}
setInterval(ping, 5000);

function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds + 1e-6));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function setConn(state, text) {
  const el = $("conn");
  el.dataset.state = state;
  el.textContent = text;
}

function toast(text, bad) {
  const el = $("toast");
  el.textContent = text;
  el.className = bad ? "toast bad" : "toast";
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.hidden = true; }, 4000);
}

function connect() {
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
  socket = new WebSocket(url);
  socket.onopen = () => {
    retry = 0;
    setConn("connected", "connected");
    sync.samples = [];
    for (let i = 0; i < 6; i++) setTimeout(ping, 60 * i);
  };
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "state") render(message);
    else if (message.type === "ack" && myPresses.delete(message.id)) toast(message.text, false);
    else if (message.type === "refused") toast(message.text, true);
    else if (message.type === "pong") pong(message);
  };
  socket.onclose = () => {
    socket = null;
    metrics.reconnects += 1;
    setConn("reconnecting", "reconnecting…");
    setTimeout(connect, Math.min(5000, 250 * 2 ** retry++));
  };
}

function send(message) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  else toast("not connected — reconnecting…", true);
}

function item(cls, label, detail) {
  const li = document.createElement("li");
  if (cls) li.className = cls;
  const b = document.createElement("span");
  b.textContent = label;
  li.append(b);
  if (detail) {
    const d = document.createElement("span");
    d.className = "detail";
    d.textContent = detail;
    li.append(d);
  }
  return li;
}

function renderPrep(s, message) {
  const classes = JSON.stringify(s.classes);
  const picker = $("picker");
  if (classes !== lastClasses) {
    lastClasses = classes;
    picker.replaceChildren(new Option("Pick a class…", ""));
    for (const c of s.classes) picker.append(new Option(c.name, c.path));
  }
  if (document.activeElement !== picker) picker.value = s.selected || "";

  $("problems").replaceChildren(...s.problems.map((p) => item("", p)));
  $("last-run").textContent = s.last_run ? s.last_run.text : "";

  $("checklist").replaceChildren(...s.checklist.map((c) => item(c.ok ? "ok" : "bad", c.label, c.detail)));
  const sim = $("sim");
  const speed = $("speed");
  sim.checked = s.options.sim;
  $("music").checked = s.options.music;
  const live = s.options.live;
  $("live-mode").checked = live;
  $("live-options").hidden = !live;
  $("speed-label").hidden = live;
  $("music-label").hidden = live;
  if (document.activeElement !== $("source")) $("source").value = s.options.source;
  for (const [id, key] of [["midi-in", "midi_in"], ["audio-in", "audio_in"]]) {
    if (document.activeElement !== $(id)) $(id).value = s.options[key] || "";
  }
  $("midi-in-label").hidden = !["auto", "midi-clock"].includes(s.options.source);
  $("audio-in-label").hidden = !["auto", "audio"].includes(s.options.source);
  $("sources").replaceChildren(...(s.sources || []).map((c) => item(c.ok ? "ok" : "bad", c.name, c.detail)));
  $("check-sources").disabled = s.phase === "running";
  if (document.activeElement !== speed) speed.value = s.options.speed;
  $("start").disabled = !s.ready;
  $("start").textContent = s.phase === "preparing" ? "Getting ready…" : "Start class";

  const done = s.tracks.filter((t) => t.state === "cached" || t.state === "analysed").length;
  const progress = $("analysis-progress");
  progress.hidden = !s.tracks.length || done === s.tracks.length;
  progress.value = s.tracks.length ? done / s.tracks.length : 0;
  $("analysis").textContent = s.tracks.length ? `${done}/${s.tracks.length} analysed` : "";
  const rows = s.tracks.map((t) => {
    const tr = document.createElement("tr");
    const cells = [
      t.name,
      t.tempo ? `${t.tempo.toFixed(1)} BPM` : "—",
      t.confidence != null ? t.confidence.toFixed(2) + (t.overrides.length ? ` (${t.overrides.join(", ")})` : "") : "—",
      t.state === "failed" ? `failed: ${t.error}` : t.state,
    ];
    cells.forEach((text, i) => {
      const td = document.createElement("td");
      td.textContent = text;
      if (i === 2 && t.low_confidence) td.className = "low";
      if (i === 0 && t.checks.length) {  // where to listen: the whole grid, or a breakdown, a silence
        const checks = document.createElement("div");
        checks.className = "checks";
        checks.textContent = t.checks.join("; ");
        td.append(checks);
      }
      if (i === 3 && t.state === "failed") td.className = "failed";
      tr.append(td);
    });
    return tr;
  });
  $("tracks").tBodies[0].replaceChildren(...rows);

  $("outputs").replaceChildren(...s.outputs.map((o) =>
    item(o.reachable === true ? "ok" : o.reachable === false ? "bad" : "", `${o.device}`,
      o.reachable === false ? `not reachable: ${o.reason}` : o.reason)));
  $("recheck").disabled = !s.class_name || s.phase === "running";
  $("tempo-source").textContent = s.tempo_source;

  if (s.preview !== previewVersion) {
    previewVersion = s.preview;
    const img = $("preview");
    img.hidden = s.preview == null;
    $("no-preview").hidden = s.preview != null;
    $("no-preview").textContent = live ? "Live: the plan runs in wall-clock time on the live beat (no preview)."
      : "Pick a class to see its plan.";
    if (s.preview != null) img.src = `/preview.png?v=${s.preview}`;
  }

  const pairing = message.pairing;
  $("pairing").hidden = !pairing;
  if (pairing) {
    if (qrVersion !== pairing.version) {
      qrVersion = pairing.version;
      $("qr").src = `/pairing.svg?v=${pairing.version}`;
    }
    $("pair-link").textContent = pairing.link;
    pairDeadline = performance.now() + pairing.expires_in * 1000;
    $("pairing").dataset.lifetime = `${Math.round(pairing.lifetime / 60)} minutes`;
    showExpiry();
    $("devices").replaceChildren(...pairing.devices.map((d) => {
      const li = document.createElement("li");
      li.textContent = `${d.label} · paired ${new Date(d.paired_at * 1000).toLocaleTimeString()}`;
      const revoke = document.createElement("button");
      revoke.className = "small";
      revoke.textContent = "Revoke";
      revoke.dataset.device = d.id;
      revoke.onclick = () => send({ type: "revoke", device: d.id });
      li.append(revoke);
      return li;
    }));
  }
}

// The pairing link works once and for a limited time: count down between pushes, hide it once it is stale.
function showExpiry() {
  if (pairDeadline === null) return;
  const left = (pairDeadline - performance.now()) / 1000;
  const expired = left <= 0;
  $("qr").hidden = expired;
  $("pair-link").hidden = expired;
  $("pair-expiry").classList.toggle("bad", expired);
  $("pair-expiry").textContent = expired
    ? "This link expired: press New link for another."
    : `Scan with the phone's camera: the link works once, for ${$("pairing").dataset.lifetime} (${clock(left)} left).`;
}
setInterval(showExpiry, 1000);

function renderLive(live) {
  const part = $("part");
  part.dataset.kind = live.kind || "";
  if (live.phase) part.dataset.phase = live.phase; else delete part.dataset.phase;
  document.body.dataset.segment = live.segment || "";
  $("segment").textContent = live.segment || "class over";
  $("round").textContent = live.round ? `round ${live.round}${live.rounds ? ` of ${live.rounds}` : ""} — ${live.phase}`
    : (live.backwards ? "backwards: the floor stays lit" : "");
  $("countdown").textContent = clock(live.left);
  $("tempo").textContent = `${Math.round(live.tempo)} BPM`;
  const dots = [];
  for (let i = 1; i <= live.beats_per_bar; i++) {
    const dot = document.createElement("i");
    dot.className = (i === 1 ? "one" : "") + (i === live.beat ? " on" : "");
    dots.push(dot);
  }
  $("beats").replaceChildren(...dots);
  $("bar").textContent = `bar ${live.bar}`;
  $("scene").textContent = live.scene || "—";
  $("next").textContent = live.next_name ? `${live.next_name} in ${clock(live.next_in)}` : "end of class";
  $("clock").textContent = `${clock(live.now)} / ${clock(live.duration)}${live.speed !== 1 ? ` (${live.speed}×)` : ""}`;
  const flags = [];
  if (live.paused) flags.push("PAUSED");
  if (live.held) flags.push("HOLD");
  if (live.overlay) flags.push(live.overlay.toUpperCase());
  showFlagsAndPending(flags, live.pending, "flags", "pending", "control");
  $("live-outputs").replaceChildren(...live.outputs.map((o) =>
    item(o.reachable ? "ok" : "bad", o.name, o.reachable ? o.reason : `down: ${o.reason}`)));
}

// The state flags and the controls pressed but not landed yet (their buttons marked), for either class screen:
// `kind` is the buttons' data attribute (data-control, data-live).
function showFlagsAndPending(flags, pending, flagsId, pendingId, kind) {
  $(flagsId).replaceChildren(...flags.map((f) => Object.assign(document.createElement("span"), { textContent: f })));
  const pendingNames = new Set(pending.map((p) => p.name));
  $(pendingId).textContent = pending.map((p) =>
    `pending: ${p.label} — lands on next bar (${clock(p.lands_at)})`).join(" · ");
  for (const button of document.querySelectorAll(`.controls button[data-${kind}]`)) {
    button.classList.toggle("pending", pendingNames.has(button.dataset[kind]));
  }
}

function factorText(f) { return f >= 1 ? `${f}` : `1/${Math.round(1 / f)}`; }

function renderLiveBeat(v) {
  const part = $("lpart");
  part.dataset.kind = v.kind || "";
  if (v.phase) part.dataset.phase = v.phase; else delete part.dataset.phase;
  document.body.dataset.segment = v.part || "";
  document.body.dataset.beat = v.state;
  $("lsegment").textContent = v.part || "starting";
  $("lcountdown").textContent = v.left != null ? clock(v.left) : "";
  $("ltempo").textContent = v.tempo != null ? `${v.tempo.toFixed(1)} BPM${v.factor !== 1 ? ` ×${factorText(v.factor)}` : ""}`
    : "";
  const dots = [];
  for (let i = 0; i < v.beats_per_bar; i++) {
    const dot = document.createElement("i");
    dot.className = (i === 0 ? "one" : "") + (i === v.beat ? " on" : "");
    dots.push(dot);
  }
  $("lbeats").replaceChildren(...(v.tempo != null ? dots : []));
  $("lstate").textContent = v.state === "LAST GRID" ? "NO BEAT: last good grid" : v.state;
  $("lstate").dataset.state = v.state;
  $("lsource").textContent = v.tempo != null ? `from ${v.source}, confidence ${Math.round(v.confidence * 100)}%`
    : `${v.source}: ${v.source_state}`;
  $("lnext").textContent = v.next_part || "end of class";
  $("lclock").textContent = clock(v.now);
  const flags = [];
  if (v.backwards) flags.push("BACKWARDS: FLOOR LIT");
  if (v.overlay) flags.push(v.overlay.toUpperCase());
  showFlagsAndPending(flags, v.pending, "lflags", "lpending", "live");
  const tap = document.querySelector("button[data-live=tap]");
  tap.classList.toggle("elsewhere", !v.taps_count);
  tap.querySelector("small").textContent = v.taps_count ? "on the beat" : `the beat comes from ${v.source}`;
}

function render(message) {
  const s = message.state;
  metrics.states += 1;
  metrics.lastSeq = message.seq;
  if (metrics.firstStateAt === null) metrics.firstStateAt = performance.now();
  role = message.role;
  document.body.dataset.phase = s.phase;
  document.body.dataset.role = role;
  $("title").textContent = s.live ? s.live.name : (s.class_name || "");
  const running = !!s.live || !!s.live_source;
  $("prep").hidden = running;
  $("live").hidden = !s.live;
  $("live-beat").hidden = !s.live_source;
  if (s.live) renderLive(s.live);
  else if (s.live_source) renderLiveBeat(s.live_source);
  else renderPrep(s, message);
  $("notices").replaceChildren(...s.notices.map((n) => item("", n)));
}

$("picker").addEventListener("change", (e) => { if (e.target.value) send({ type: "select", cue: e.target.value }); });
function sendOptions() {
  const speed = parseFloat($("speed").value);
  send({ type: "options", sim: $("sim").checked, speed: Number.isFinite(speed) ? speed : 1, music: $("music").checked,
    live: $("live-mode").checked, source: $("source").value, midi_in: $("midi-in").value,
    audio_in: $("audio-in").value });
}
for (const id of ["live-mode", "source", "midi-in", "audio-in"]) $(id).addEventListener("change", sendOptions);
$("check-sources").addEventListener("click", () => send({ type: "check-sources" }));
$("sim").addEventListener("change", sendOptions);
$("music").addEventListener("change", sendOptions);
$("speed").addEventListener("change", sendOptions);
$("start").addEventListener("click", () => send({ type: "start" }));
$("recheck").addEventListener("click", () => send({ type: "recheck" }));
$("new-link").addEventListener("click", () => send({ type: "new-link" }));
function pressId() {
  return `${Date.now().toString(36)}-${(pressCount++).toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
}
for (const button of document.querySelectorAll(".controls button[data-control]")) {
  button.addEventListener("click", () => {
    const id = pressId();
    myPresses.add(id);
    send({ type: "press", control: button.dataset.control, id });
  });
}
// Live buttons act on touch (pointerdown), stamped with the event's own time; a click without a pointer
// (keyboard, assistive tech) acts too. `at` is that moment on the server's clock, when the clock is known.
function livePress(name, stamp) {
  const id = pressId();
  myPresses.add(id);
  const message = { type: "press", control: name, id };
  if ((name === "tap" || name === "one") && metrics.clockOffset !== null) {
    message.at = (stamp + metrics.clockOffset) / 1000;
    if (name === "tap") metrics.taps.push(stamp);
  }
  send(message);
}
for (const button of document.querySelectorAll("button[data-live]")) {
  button.addEventListener("pointerdown", (e) => { e.preventDefault(); livePress(button.dataset.live, e.timeStamp); });
  button.addEventListener("click", (e) => { if (e.detail === 0) livePress(button.dataset.live, e.timeStamp); });
}
connect();
