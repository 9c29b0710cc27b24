// Livescan kiosk page: sign-in -> booking form -> capture -> review/submit -> queue -> responses.
// Plain JS, no build step, no external resources. Live state arrives by server-sent events (/api/events);
// the page never polls. Nothing personal is kept in storage: all state lives in this page's memory.
"use strict";

const $ = (id) => document.getElementById(id);
const STATE_WORDS = {
  pending: "to do", lifting: "lift finger", waiting: "place finger", capturing: "reading", uploading: "uploading",
  processing: "checking", review: "review", accepted: "accepted", missing: "missing", failed: "failed",
};
const BUSY = new Set(["lifting", "waiting", "capturing", "uploading", "processing"]);
const ARMED_EMPTY = new Set(["lifting", "waiting"]); // armed, nothing read yet: a retake just re-arms

const app = {
  station: null, operator: null, codes: null, booking: null, queue: [], selected: null,
  events: null, idleTimer: null, lastDuplicates: [], sensor: null, responseTcn: null, screen: null,
  demoSubject: null, touched: new Set(), validateTimer: null, validateSeq: 0,
};

// --- HTTP -------------------------------------------------------------------------------------

async function api(method, path, body) {
  const options = { method, headers: {}, credentials: "same-origin" };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, options);
  } catch (err) {
    return { ok: false, status: 0, data: { error: "offline", message: "the station does not answer; try again" } };
  }
  let data = null;
  const type = response.headers.get("Content-Type") || "";
  if (type.includes("application/json")) data = await response.json();
  if (response.status === 401 && data && data.error === "session_expired" && app.operator) {
    signedOut(data.message);
  }
  return { ok: response.ok, status: response.status, data };
}

function toast(text, ms = 2500) {
  const el = $("toast");
  el.textContent = text;
  el.onclick = () => { el.hidden = true; };
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.hidden = true; }, ms);
}

function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); }
function make(tag, attrs = {}, text) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") el.className = v; else if (k.startsWith("data-")) el.setAttribute(k, v); else el[k] = v;
  }
  if (text !== undefined) el.textContent = text;
  return el;
}

// --- screens ----------------------------------------------------------------------------------

function show(name) {
  app.screen = name;
  for (const s of document.querySelectorAll(".screen")) s.hidden = s.id !== `screen-${name}`;
  const signed = name !== "signin";
  for (const id of ["nav-booking", "nav-queue", "nav-lock"]) $(id).hidden = !signed;
  $("nav-demo").hidden = !(signed && app.station && app.station.demo);
  $("nav-booking").classList.toggle("active", ["form", "capture", "review"].includes(name));
  $("nav-queue").classList.toggle("active", ["queue", "response"].includes(name));
  document.body.dataset.screen = name;
}

function isOpen(b) { return Boolean(b && (b.state === "capturing" || b.state === "ready")); }
// Another officer's open booking: the server shows only whose it is (no fingers); it can only be cancelled.
function isForeign(b) { return isOpen(b) && b.owned === false; }

function goBooking() {
  const b = app.booking;
  if (isOpen(b) && !isForeign(b)) { show("capture"); renderCapture(); armNextIfIdle(); }  // resumes a parked booking
  else { show("form"); }
  renderForeign();
}

function renderForeign() {
  const foreign = isForeign(app.booking);
  $("foreign-booking").hidden = !foreign;
  $("foreign-text").textContent = foreign ? app.booking.message : "";
  $("form-start").disabled = foreign;
}

async function cancelForeign() {
  const b = app.booking;
  if (!isForeign(b) || !window.confirm(`Cancel the booking officer ${b.operator} started? Its prints are discarded.`)) return;
  const r = await api("POST", "/api/booking/cancel");
  if (r.ok) app.booking = null;
  else if (r.status !== 401) toast((r.data && r.data.message) || "could not cancel that booking");
  renderForeign();
}

// --- keypads ----------------------------------------------------------------------------------

function buildKeypad(pad, onGo, goLabel) {
  const target = () => document.activeElement && document.activeElement.closest(".signin-fields")
    && document.activeElement.tagName === "INPUT" ? document.activeElement : $(pad.dataset.target);
  let lastFocus = null;
  pad.closest(".signin").addEventListener("focusin", (e) => { if (e.target.tagName === "INPUT") lastFocus = e.target; });
  const keys = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "clear", "0", "del"];
  for (const key of keys) {
    const label = key === "clear" ? "C" : key === "del" ? "⌫" : key;
    const b = make("button", { type: "button", "data-key": key }, label);
    b.setAttribute("aria-label", key === "clear" ? "clear" : key === "del" ? "delete" : key);
    b.addEventListener("pointerdown", (e) => e.preventDefault()); // keep the input's focus
    b.addEventListener("click", () => {
      const input = lastFocus || target();
      if (key === "clear") input.value = "";
      else if (key === "del") input.value = input.value.slice(0, -1);
      else if (input.value.length < (input.maxLength > 0 ? input.maxLength : 32)) input.value += key;
      input.dispatchEvent(new Event("input"));
    });
    pad.appendChild(b);
  }
  const go = make("button", { type: "button", class: "go" }, goLabel);
  go.addEventListener("click", onGo);
  pad.appendChild(go);
  return go;
}

// --- sign-in ----------------------------------------------------------------------------------

async function signIn() {
  const operator = $("signin-operator").value.trim();
  const pin = $("signin-pin").value;
  const msg = $("signin-message");
  if (!operator || !pin) { msg.textContent = "enter your operator ID and PIN"; return; }
  const r = await api("POST", "/api/session", { operator, pin });
  $("signin-pin").value = "";
  if (r.ok) {
    msg.textContent = "";
    await signedIn(r.data);
    return;
  }
  if (r.status === 423) {
    const until = new Date(r.data.locked_until);
    msg.textContent = `Locked: too many wrong PINs. Try again after ${until.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}.`;
  } else if (r.status === 401) {
    const left = r.data.attempts_left;
    msg.textContent = `Operator ID or PIN is wrong. ${left} attempt${left === 1 ? "" : "s"} left.`;
  } else {
    msg.textContent = (r.data && r.data.message) || "sign-in failed";
  }
}

async function signedIn(who) {
  app.operator = who;
  $("who").textContent = who.name;
  $("who").title = `${who.name} (${who.role})`;
  if (!app.codes) {
    const c = await api("GET", "/api/codes");
    if (c.ok) { app.codes = c.data; fillPickers(); }
  }
  resetForm();
  connectEvents();
  resetIdle();
  const b = await api("GET", "/api/booking");
  app.booking = b.ok ? b.data : null;
  goBooking();
}

function signedOut(message) {
  if (app.events) { app.events.close(); app.events = null; }
  clearTimeout(app.idleTimer);
  app.operator = null;
  app.booking = null;
  $("who").textContent = "";
  $("signin-message").textContent = message || "";
  $("signin-operator").value = "";
  $("signin-pin").value = "";
  for (const d of document.querySelectorAll(".overlay")) d.hidden = true;
  show("signin");
  $("signin-operator").focus();
}

async function lockNow(reason) {
  await api("POST", "/api/session/lock");
  signedOut(reason || "");
}

function resetIdle() {
  clearTimeout(app.idleTimer);
  if (!app.operator || !app.station) return;
  const seconds = app.station.idle_lock_seconds;
  app.idleTimer = setTimeout(() => lockNow(`Locked after ${duration(seconds)} without use. Sign in again.`),
    seconds * 1000);
}

function duration(seconds) {
  const [n, unit] = seconds % 60 === 0 ? [seconds / 60, "minute"] : [seconds, "second"];
  return `${n} ${unit}${n === 1 ? "" : "s"}`;
}

// --- live events ------------------------------------------------------------------------------

function connectEvents() {
  if (app.events) app.events.close();
  const source = new EventSource("/api/events");
  app.events = source;
  source.onmessage = (m) => {
    let event;
    try { event = JSON.parse(m.data); } catch (err) { return; }
    handleEvent(event);
  };
  source.onerror = () => {
    // EventSource reconnects by itself; when the session has gone, the server refuses and we sign out.
    if (source.readyState === EventSource.CLOSED && app.operator) {
      api("GET", "/api/session").then((r) => { if (r.ok) connectEvents(); });
    }
  };
}

function showSensor(sensor) {
  app.sensor = sensor;
  $("sensor-state").dataset.state = sensor.state;
  $("sensor-state").textContent = `sensor ${sensor.state}`;
  $("sensor-state").title = sensor.message || "";
}

function handleEvent(event) {
  switch (event.event) {
    case "booking":
      app.booking = event.booking;
      if (app.booking && app.booking.duplicates) app.lastDuplicates = app.booking.duplicates;
      if (isForeign(app.booking) && (app.screen === "capture" || app.screen === "review")) goBooking();
      if (app.screen === "capture") renderCapture();
      if (app.screen === "review") renderReview();
      if (app.screen === "form") renderForeign();
      break;
    case "finger":
      if (app.booking && app.booking.fingers && event.booking === app.booking.id) {
        const i = app.booking.fingers.findIndex((f) => f.fgp === event.finger.fgp);
        if (i >= 0) app.booking.fingers[i] = event.finger;
        if (event.finger.state !== "uploading") hideProgress(event.finger.fgp);
        if (app.screen === "capture") renderCapture();
        if (app.screen === "review") renderReview();
      }
      break;
    case "progress":
      showProgress(event.fgp, event.done, event.total);
      break;
    case "queue":
      app.queue = event.items || [];
      renderQueue();
      break;
    case "sensor":
      showSensor(event);
      break;
    case "session":
      if (event.state === "expired") signedOut("The station locked itself after being idle. Sign in again.");
      break;
    default:
      break;
  }
}

// --- booking form -------------------------------------------------------------------------------

function fillPickers() {
  for (const select of document.querySelectorAll("select[data-codes]")) {
    const table = app.codes[select.dataset.codes] || {};
    clear(select);
    select.appendChild(make("option", { value: "" }, select.dataset.optional ? "— none —" : "— choose —"));
    const entries = Object.entries(table);
    if (select.dataset.codes === "place_of_birth" || select.dataset.codes === "citizenship") {
      entries.sort((a, b) => a[1].localeCompare(b[1]));
    }
    for (const [code, meaning] of entries) select.appendChild(make("option", { value: code }, `${meaning} (${code})`));
  }
}

function todayIso() {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

function resetForm() {
  const form = $("booking-form");
  form.reset();
  form.elements.arrest_date.value = todayIso();
  form.elements.agency.value = (app.station && app.station.ori) || "";
  app.touched.clear();
  showProblems([]);
  $("name-sent").textContent = "";
  $("form-summary").textContent = "";
}

function formValues() {
  const form = $("booking-form");
  const values = {};
  for (const el of form.elements) {
    if (!el.name) continue;
    values[el.name] = el.type === "checkbox" ? el.checked : el.value;
  }
  return values;
}

function fieldOf(el) {
  const holder = el.closest("[data-field]");
  return holder ? holder.dataset.field : el.name;
}

function showProblems(problems, all = false) {
  const byField = {};
  for (const p of problems) (byField[p.field] = byField[p.field] || []).push(p.message);
  for (const holder of document.querySelectorAll("#booking-form [data-field], #screen-form .form-problem")) {
    const field = holder.dataset.field;
    const shown = (all || app.touched.has(field) || field === "form") ? (byField[field] || []) : [];
    const slot = holder.classList.contains("problem") ? holder : holder.querySelector(".problem");
    if (slot) slot.textContent = shown.join("; ");
    holder.classList.toggle("invalid", shown.length > 0);
  }
  const count = problems.length;
  $("form-summary").textContent = count ? `${count} problem${count === 1 ? "" : "s"} to fix` : "ready to start capture";
}

async function validateForm(all = false) {
  const seq = ++app.validateSeq;
  const r = await api("POST", "/api/booking/validate", { form: formValues() });
  if (!r.ok || seq !== app.validateSeq) return r.ok ? r.data.problems : null;
  const sent = r.data.name_sent;
  const typed = $("f-name").value.trim();
  $("name-sent").textContent = sent && sent !== typed ? `sent as ${sent}` : "";
  showProblems(r.data.problems, all);
  return r.data.problems;
}

function onFormInput(e) {
  if (e.target.name) app.touched.add(fieldOf(e.target));
  if (e.target.name === "dob_unknown" && e.target.checked) $("f-dob").value = "";
  clearTimeout(app.validateTimer);
  app.validateTimer = setTimeout(() => validateForm(false), 250);
}

async function startBooking() {
  const button = $("form-start");
  button.disabled = true;
  try {
    const r = await api("POST", "/api/booking", { form: formValues() });
    if (r.ok) {
      app.booking = r.data;
      app.lastDuplicates = [];
      app.selected = null;
      show("capture");
      renderCapture();
      const first = r.data.fingers.find((f) => f.state === "pending");
      if (first && !r.data.fingers.some((f) => BUSY.has(f.state))) await fingerAction(first.fgp, "capture");
    } else if (r.status === 422) {
      for (const p of r.data.problems) app.touched.add(p.field);
      showProblems(r.data.problems, true);
    } else if (r.status === 409 && r.data.error === "booking_in_progress") {
      toast(r.data.message);
      const b = await api("GET", "/api/booking");
      app.booking = b.ok ? b.data : null;
      goBooking();
    } else if (r.status !== 401) {
      toast((r.data && r.data.message) || "could not start the booking");
    }
  } finally {
    button.disabled = isForeign(app.booking);
  }
}

// --- capture ------------------------------------------------------------------------------------

function threshold() { return (app.station && app.station.quality_threshold) || null; }

function finger(fgp) { return app.booking && app.booking.fingers && app.booking.fingers.find((f) => f.fgp === fgp); }

function duplicatePositions() {
  const set = new Set();
  for (const pair of app.lastDuplicates || []) for (const p of pair) set.add(p);
  return set;
}

function selectedFinger() {
  if (!app.booking || !app.booking.fingers) return null;
  const chosen = app.selected && finger(app.selected);
  if (chosen) return chosen;
  return finger(app.booking.current_fgp) || app.booking.fingers.find((f) => f.state === "review")
    || app.booking.fingers[0];
}

function renderCapture() {
  const b = app.booking;
  if (!b || !b.fingers) return;
  const current = b.current_fgp;
  const sel = selectedFinger();
  const dups = duplicatePositions();
  for (const shape of document.querySelectorAll("#hands .finger")) {
    const fgp = Number(shape.dataset.fgp);
    const f = finger(fgp);
    shape.dataset.state = f ? f.state : "pending";
    shape.classList.toggle("current", fgp === current);
    shape.classList.toggle("selected", sel && fgp === sel.fgp && fgp !== current);
    shape.classList.toggle("duplicate", dups.has(fgp));
  }
  const list = $("finger-list");
  clear(list);
  for (const f of b.fingers) {
    const li = make("li", { "data-fgp": String(f.fgp), "data-state": f.state });
    li.classList.toggle("current", f.fgp === current);
    li.classList.toggle("selected", sel && f.fgp === sel.fgp);
    li.classList.toggle("duplicate", dups.has(f.fgp));
    li.appendChild(make("span", {}, `${f.fgp} ${f.name}`));
    const word = f.state === "missing" && f.missing ? f.missing : (STATE_WORDS[f.state] || f.state);
    li.appendChild(make("span", { class: "state" }, dups.has(f.fgp) ? "retake" : word));
    li.addEventListener("click", () => { app.selected = f.fgp; renderCapture(); });
    list.appendChild(li);
  }
  renderFingerPanel(sel);
  renderSequenceWarning($("sequence-warning"));
  const ready = b.state === "ready" && !(app.lastDuplicates || []).length;
  $("act-review").textContent = ready ? "Review & submit" : "Review";
}

function renderFingerPanel(f) {
  if (!f) return;
  $("finger-title").textContent = `${f.fgp} · ${f.name}`;
  // a finger named by the sequence check: the warning below says it all (the small screen has no room twice)
  $("finger-message").textContent = duplicatePositions().has(f.fgp) ? "" : (f.message || "");
  const score = $("finger-score");
  score.textContent = f.nfiq2 === null || f.nfiq2 === undefined ? "–" : String(f.nfiq2);
  const limit = threshold();
  score.className = f.nfiq2 == null ? "" : (limit && f.nfiq2 < limit ? "poor" : "good");
  $("finger-minutiae").textContent = f.minutiae != null ? `${f.minutiae} minutiae` : "";
  const fb = $("finger-feedback");
  clear(fb);
  for (const line of f.feedback || []) fb.appendChild(make("li", {}, line));
  const img = $("print");
  const hasImage = f.state === "review" || (f.state === "accepted" && f.nfiq2 != null);
  if (hasImage) {
    const src = `/api/booking/fingers/${f.fgp}.png?a=${f.attempts}&b=${app.booking.id}`;
    if (img.dataset.src !== src) { img.dataset.src = src; img.src = src; }
    img.alt = `print of ${f.name}`;
    img.hidden = false;
    $("print-placeholder").hidden = true;
  } else {
    img.hidden = true;
    img.dataset.src = "";
    $("print-placeholder").hidden = false;
    $("print-placeholder").textContent = BUSY.has(f.state) ? (STATE_WORDS[f.state] + "…") : "no print yet";
  }
  const open = app.booking.state === "capturing" || app.booking.state === "ready";
  const reviewable = f.state === "review";
  const belowThreshold = reviewable && f.nfiq2 != null && threshold() && f.nfiq2 < threshold();
  $("act-accept").disabled = !open || !reviewable || belowThreshold;
  $("act-override").hidden = !(open && belowThreshold);
  $("act-retake").disabled = !open || (BUSY.has(f.state) && !ARMED_EMPTY.has(f.state));
  $("act-retake").textContent = f.state === "pending" ? "Capture" : "Retake";
  $("act-xx").disabled = !open || f.state === "missing";
  $("act-up").disabled = !open || f.state === "missing";
}

function renderSequenceWarning(el) {
  const pairs = app.lastDuplicates || [];
  if (!pairs.length) { el.hidden = true; el.textContent = ""; return; }
  const names = (p) => { const f = finger(p); return f ? `${p} (${f.name})` : String(p); };
  const text = pairs.map(([a, b]) => `${names(a)} and ${names(b)}`).join("; ");
  el.textContent = `Sequence check: the same finger was printed as ${text}. Retake these positions.`;
  el.hidden = false;
}

function showProgress(fgp, done, total) {
  const shownFgp = selectedFinger() && selectedFinger().fgp;
  if (shownFgp !== fgp && app.booking && app.booking.current_fgp !== fgp) return;
  $("progress").hidden = false;
  $("progress-bar").style.width = `${Math.round((100 * done) / Math.max(total, 1))}%`;
}
function hideProgress() { $("progress").hidden = true; $("progress-bar").style.width = "0"; }

async function fingerAction(fgp, action, body) {
  const r = await api("POST", `/api/booking/fingers/${fgp}/${action}`, body);
  if (r.ok && r.data && r.data.fingers) {
    app.booking = r.data;
    if (action === "capture") {
      app.lastDuplicates = (app.lastDuplicates || []).filter((pair) => !pair.includes(fgp));
    }
    if (app.screen === "capture") renderCapture();
  } else if (!r.ok && r.status !== 401) {
    toast((r.data && r.data.message) || `${action} failed`);
  }
  return r;
}

function nextAfter(fgp) {
  // after a decision, show the finger the workflow is on now
  app.selected = null;
  return fgp;
}

async function onAccept() {
  const f = selectedFinger(); if (!f) return;
  const r = await fingerAction(f.fgp, "accept");
  if (r.ok) nextAfter(f.fgp);
  await armNextIfIdle();
}
async function onRetake() { const f = selectedFinger(); if (f) { app.selected = f.fgp; await fingerAction(f.fgp, "capture"); } }
async function onMark(reason) {
  const f = selectedFinger(); if (!f) return;
  const r = await fingerAction(f.fgp, "mark", { reason });
  if (r.ok) nextAfter(f.fgp);
  await armNextIfIdle();
}

async function armNextIfIdle() {
  // Auto-advance is the workflow's job; if nothing is armed and a finger is still to do, arm it.
  const b = app.booking;
  if (!b || !b.fingers || b.state !== "capturing") return;
  if (b.fingers.some((f) => BUSY.has(f.state))) { renderCapture(); return; }
  const next = b.fingers.find((f) => f.state === "pending" || f.state === "failed");
  if (next) await fingerAction(next.fgp, "capture");
  else renderCapture();
}

// --- override dialog ----------------------------------------------------------------------------

function openOverride() {
  const f = selectedFinger(); if (!f) return;
  $("override-what").textContent = `Accept ${f.name} with NFIQ 2 ${f.nfiq2}, below the threshold of ${threshold() || "the station"}.`;
  $("override-operator").value = "";
  $("override-pin").value = "";
  $("override-message").textContent = "";
  $("dialog-override").dataset.fgp = String(f.fgp);
  $("dialog-override").hidden = false;
  $("override-operator").focus();
}

async function submitOverride() {
  const fgp = Number($("dialog-override").dataset.fgp);
  const supervisor = $("override-operator").value.trim();
  const pin = $("override-pin").value;
  $("override-pin").value = "";
  const r = await api("POST", `/api/booking/fingers/${fgp}/override`, { supervisor, pin });
  if (r.ok) {
    app.booking = r.data;
    $("dialog-override").hidden = true;
    app.selected = null;
    toast(`${finger(fgp).name} accepted by supervisor override`);
    await armNextIfIdle();
    return;
  }
  const d = r.data || {};
  if (r.status === 401 && d.error === "override_refused") {
    $("override-message").textContent = `Supervisor ID or PIN is wrong. ${d.attempts_left} attempts left.`;
  } else if (r.status === 423) {
    $("override-message").textContent = "That supervisor is locked out after too many wrong PINs.";
  } else {
    $("override-message").textContent = d.message || "override refused";
  }
}

// --- review and submit ------------------------------------------------------------------------------

function renderReview() {
  const b = app.booking;
  const rows = $("review-rows");
  clear(rows);
  if (!b || !b.fingers) return;
  const dups = duplicatePositions();
  let done = 0;
  for (const f of b.fingers) {
    const tr = make("tr");
    tr.classList.toggle("duplicate", dups.has(f.fgp));
    if (f.state === "accepted" || f.state === "missing") done += 1;
    const state = f.state === "missing" ? `missing (${f.missing})` : (STATE_WORDS[f.state] || f.state);
    const note = f.accepted_by_override ? `override by ${f.accepted_by_override}` : (dups.has(f.fgp) ? "same finger as another position" : "");
    tr.appendChild(make("td", {}, `${f.fgp} ${f.name}`));
    tr.appendChild(make("td", {}, state));
    tr.appendChild(make("td", {}, f.nfiq2 == null ? "–" : String(f.nfiq2)));
    tr.appendChild(make("td", {}, note));
    rows.appendChild(tr);
  }
  renderSequenceWarning($("review-warning"));
  $("review-summary").textContent = `${done} of 10 fingers done`;
  $("review-submit").disabled = b.state !== "ready";
}

async function submitBooking() {
  const button = $("review-submit");
  button.disabled = true;
  const r = await api("POST", "/api/booking/submit");
  if (r.ok) {
    toast(`Queued as ${r.data.tcn}`, 3000);
    app.booking = null;
    app.lastDuplicates = [];
    resetForm();
    show("queue");
    renderQueue(r.data.tcn);
    return;
  }
  const d = r.data || {};
  if (d.error === "sequence_check") {
    app.lastDuplicates = d.duplicates || [];
    const b = await api("GET", "/api/booking");
    if (b.ok) app.booking = b.data;
    const first = app.lastDuplicates[0];
    app.selected = first ? first[1] : null;
    show("capture");
    renderCapture();
  } else if (d.error === "incomplete") {
    $("review-warning").textContent = `Still to do: ${(d.missing || []).join(", ")}`;
    $("review-warning").hidden = false;
  } else if (r.status !== 401) {
    toast(d.message || "submit failed");
  }
  button.disabled = false;
}

// --- queue and responses ------------------------------------------------------------------------------

function renderQueue(highlight) {
  const list = $("queue-list");
  clear(list);
  if (!app.queue.length) list.appendChild(make("li", {}, "No bookings yet."));
  for (const item of app.queue) {
    const li = make("li", { "data-tcn": item.tcn, "data-state": item.state });
    if (highlight && item.tcn === highlight) li.classList.add("new");
    li.appendChild(make("span", { class: "tcn" }, item.tcn));
    li.appendChild(make("span", { class: "answers" }, item.answered.length ? `answers: ${item.answered.join(" + ")}` : ""));
    li.appendChild(make("span", { class: "badge", "data-state": item.state }, item.state));
    const when = item.created_at ? new Date(item.created_at).toLocaleString() : "";
    li.appendChild(make("span", { class: "meta" }, `${when} · by ${item.submitted_by} · ${item.meaning}`));
    li.addEventListener("click", () => openResponse(item.tcn));
    list.appendChild(li);
  }
  if (app.screen === "response" && app.responseTcn) {
    const item = app.queue.find((i) => i.tcn === app.responseTcn);
    if (item && item.state !== $("response-state").dataset.state) openResponse(app.responseTcn);
  }
}

const LEVEL_WORDS = {
  1: "most serious: violent, sexual, weapons or major drug offences",
  2: "minor drug or property offences",
  3: "other offences",
};
const NOTIFICATION_WORDS = {
  pending: "Immigration authority notification: recorded by the centre, delivery pending",
  delivered: "Immigration authority notified by the centre",
  failed: "Notification to the immigration authority FAILED at the centre; its operators must resend it",
};

function table(headings, rows, cls) {
  const t = make("table", cls ? { class: cls } : {});
  const head = make("tr");
  for (const h of headings) head.appendChild(make("th", {}, h));
  t.appendChild(head);
  for (const row of rows) {
    const tr = make("tr");
    for (const v of row) tr.appendChild(make("td", {}, v == null ? "" : String(v)));
    t.appendChild(tr);
  }
  return t;
}

function candidateTable(candidates) {
  return table(["rank", "subject", "score", "fingers"],
    candidates.map((c) => [c.rank, c.subject_id, c.score, c.fingers_matched]), "candidates");
}

function coded(tableName, code) {
  const meaning = app.codes && app.codes[tableName] && app.codes[tableName][code];
  return meaning ? `${meaning} (${code})` : code;
}

function recordDetails(summary) {
  // the rank-1 subject's record as the centre sent it: who, then one row per record entry
  const box = make("div", { class: "record" });
  const dl = make("dl");
  const add = (k, v) => {
    if (v == null || v === "" || (Array.isArray(v) && !v.length)) return;
    dl.appendChild(make("dt", {}, k));
    dl.appendChild(make("dd", {}, Array.isArray(v) ? v.join(", ") : String(v)));
  };
  const known = new Set(["subject_id", "name", "date_of_birth", "sex", "race", "place_of_birth", "citizenship",
    "galleries", "entries", "level"]);
  add("name", summary.name);
  add("born", summary.date_of_birth);
  add("sex", summary.sex && coded("sex", summary.sex));
  add("race", summary.race && coded("race", summary.race));
  add("place of birth", summary.place_of_birth && coded("place_of_birth", summary.place_of_birth));
  add("citizenship", (summary.citizenship || []).map((code) => coded("citizenship", code)));
  add("galleries", summary.galleries);
  for (const [k, v] of Object.entries(summary)) {
    if (!known.has(k) && (typeof v !== "object" || Array.isArray(v))) add(k.replace(/_/g, " "), v);
  }
  box.appendChild(dl);
  const entries = Array.isArray(summary.entries) ? summary.entries : [];
  if (entries.length) {
    box.appendChild(table(["date", "offence", "disposition", "level"],
      entries.map((e) => [e.date, e.offence, e.disposition, e.level]), "entries"));
  }
  return box;
}

function renderAnswer(el, result, kind) {
  const body = el.querySelector(".body");
  clear(body);
  el.classList.remove("hit", "nohit");
  el.dataset.hit = result ? String(Boolean(result.hit)) : "";
  if (!result) {
    body.appendChild(make("p", { class: "verdict" }, "waiting for the answer"));
    return;
  }
  el.classList.add(result.hit ? "hit" : "nohit");
  const verdict = kind === "criminal" ? (result.hit ? "IDENT: criminal record found" : "NON-IDENT: no criminal record")
    : (result.hit ? "MATCH in the immigration gallery" : "No match in the immigration gallery");
  body.appendChild(make("p", { class: "verdict" }, verdict));
  const candidates = result.candidates || [];
  const top = candidates.find((c) => c.rank === 1) || candidates[0];
  if (result.hit && top) {
    body.appendChild(make("p", { class: "subject", "data-subject": top.subject_id },
      `Subject ${top.subject_id} · score ${top.score} · ${top.fingers_matched} fingers matched`));
  }
  if (kind === "criminal" && result.hit && result.level != null) {
    const level = make("p", { class: "level", "data-level": String(result.level) });
    level.appendChild(make("b", {}, `Offence level ${result.level}`));
    if (LEVEL_WORDS[result.level]) level.appendChild(make("span", {}, ` ${LEVEL_WORDS[result.level]}`));
    body.appendChild(level);
  }
  if (kind === "immigration" && result.hit) {
    const note = result.notification;
    const status = note ? note.status : "none";
    let words = NOTIFICATION_WORDS[status] || `Notification to the immigration authority: ${status}`;
    if (status === "delivered" && note.delivered_at) words += ` at ${new Date(note.delivered_at).toLocaleString()}`;
    if (!note) words = "The centre recorded no notification for this match";
    body.appendChild(make("p", { class: "notification", "data-status": status }, words));
    body.appendChild(make("p", { class: "hint" }, "The station does not decide status."));
  }
  if (candidates.length) body.appendChild(candidateTable(candidates));
  else body.appendChild(make("p", { class: "hint" }, "no candidates"));
  if (kind === "criminal" && result.hit && result.record_summary) {
    body.appendChild(recordDetails(result.record_summary));
  }
}

async function openResponse(tcn) {
  const r = await api("GET", `/api/queue/${encodeURIComponent(tcn)}`);
  if (!r.ok) { if (r.status !== 401) toast((r.data && r.data.message) || "cannot open this booking"); return; }
  const d = r.data;
  app.responseTcn = tcn;
  $("response-tcn").textContent = `TCN ${d.tcn}`;
  $("response-state").textContent = d.state;
  $("response-state").dataset.state = d.state;
  const results = d.results || {};
  renderAnswer($("answer-criminal"), results.criminal, "criminal");
  renderAnswer($("answer-immigration"), results.immigration, "immigration");
  if (d.state === "rejected") {
    const body = $("answer-criminal").querySelector(".body");
    clear(body);
    body.appendChild(make("p", { class: "verdict" }, "Rejected by the centre"));
    for (const p of d.problems || []) body.appendChild(make("p", {}, `${p.field}: ${p.message}`));
  }
  $("response-acknowledge").disabled = d.state !== "responded";
  $("response-ack").textContent = d.acknowledged_by ? `acknowledged by ${d.acknowledged_by}` : d.meaning;
  show("response");
}

async function acknowledge() {
  const tcn = app.responseTcn;
  const r = await api("POST", `/api/queue/${encodeURIComponent(tcn)}/acknowledge`);
  if (r.ok) { toast("Acknowledged"); await openResponse(tcn); }
  else if (r.status !== 401) toast((r.data && r.data.message) || "could not acknowledge");
}

// --- demo panel ------------------------------------------------------------------------------------

async function openDemo() {
  const r = await api("GET", "/api/demo/subjects");
  if (!r.ok) { toast((r.data && r.data.message) || "demo not available"); return; }
  const box = $("demo-subjects");
  clear(box);
  for (const s of r.data.subjects) {
    const label = s.label || s.description || s.id;
    const b = make("button", { type: "button", "data-subject": s.id }, `${s.id}\n${label === s.id ? "" : label}`);
    b.style.whiteSpace = "pre-line";
    b.classList.toggle("chosen", app.demoSubject === s.id);
    b.addEventListener("click", () => {
      app.demoSubject = s.id;
      for (const x of box.children) x.classList.toggle("chosen", x === b);
    });
    box.appendChild(b);
  }
  for (const id of ["demo-asked", "demo-shown"]) {
    const sel = $(id);
    clear(sel);
    sel.appendChild(make("option", { value: "" }, id === "demo-asked" ? "(no swap)" : "(same)"));
    for (let p = 1; p <= 10; p += 1) sel.appendChild(make("option", { value: String(p) }, `${p} ${(app.codes && app.codes.fingers[p]) || ""}`));
  }
  $("demo-message").textContent = "";
  $("dialog-demo").hidden = false;
}

async function demoPresent() {
  if (!app.demoSubject) { $("demo-message").textContent = "choose a subject"; return; }
  const asked = $("demo-asked").value, shown = $("demo-shown").value;
  const body = { subject: app.demoSubject };
  if (asked && shown) body.substitute = { [asked]: Number(shown) };
  const r = await api("POST", "/api/demo/present", body);
  if (r.ok) {
    $("dialog-demo").hidden = true;
    $("nav-demo").textContent = `Demo: ${app.demoSubject}`;
    toast(`${app.demoSubject} at the sensor${body.substitute ? `; finger ${shown} shown for ${asked}` : ""}`);
  } else {
    $("demo-message").textContent = (r.data && r.data.message) || "could not present";
  }
}

// --- start -------------------------------------------------------------------------------------------

async function boot() {
  buildKeypad($("signin-keypad"), signIn, "Sign in");
  buildKeypad($("override-keypad"), submitOverride, "Approve");
  $("signin-operator").addEventListener("keydown", (e) => { if (e.key === "Enter") $("signin-pin").focus(); });
  $("signin-pin").addEventListener("keydown", (e) => { if (e.key === "Enter") signIn(); });
  $("override-pin").addEventListener("keydown", (e) => { if (e.key === "Enter") submitOverride(); });
  $("override-cancel").addEventListener("click", () => { $("dialog-override").hidden = true; });

  const form = $("booking-form");
  form.addEventListener("input", onFormInput);
  form.addEventListener("change", onFormInput);
  form.addEventListener("submit", (e) => e.preventDefault());
  $("form-start").addEventListener("click", startBooking);
  $("form-clear").addEventListener("click", resetForm);
  $("foreign-cancel").addEventListener("click", cancelForeign);

  for (const shape of document.querySelectorAll("#hands .finger")) {
    shape.addEventListener("click", () => { app.selected = Number(shape.dataset.fgp); renderCapture(); });
  }
  $("act-accept").addEventListener("click", onAccept);
  $("act-retake").addEventListener("click", onRetake);
  $("act-xx").addEventListener("click", () => onMark("XX"));
  $("act-up").addEventListener("click", () => onMark("UP"));
  $("act-override").addEventListener("click", openOverride);
  $("act-review").addEventListener("click", () => { show("review"); renderReview(); });
  $("act-cancel").addEventListener("click", async () => {
    if (!window.confirm("Cancel this booking? Its prints are discarded.")) return;
    const r = await api("POST", "/api/booking/cancel");
    if (r.ok) { app.booking = null; app.lastDuplicates = []; resetForm(); show("form"); }
  });
  $("review-back").addEventListener("click", () => { show("capture"); renderCapture(); });
  $("review-submit").addEventListener("click", submitBooking);
  $("queue-new").addEventListener("click", goBooking);
  $("response-back").addEventListener("click", () => { app.responseTcn = null; show("queue"); renderQueue(); });
  $("response-acknowledge").addEventListener("click", acknowledge);

  $("nav-booking").addEventListener("click", goBooking);
  $("nav-queue").addEventListener("click", () => { show("queue"); renderQueue(); });
  $("nav-lock").addEventListener("click", () => lockNow("Locked. Sign in to continue."));
  $("nav-demo").addEventListener("click", openDemo);
  $("demo-close").addEventListener("click", () => { $("dialog-demo").hidden = true; });
  $("demo-present").addEventListener("click", demoPresent);

  for (const type of ["pointerdown", "keydown"]) document.addEventListener(type, resetIdle, { passive: true });

  const st = await api("GET", "/api/station");
  app.station = st.ok ? st.data : { demo: false, idle_lock_seconds: 1800, ori: "" };
  if (app.station.station_name) $("station-name").textContent = app.station.station_name;
  if (app.station.sensor) showSensor(app.station.sensor);
  const who = await api("GET", "/api/session");
  if (who.ok) await signedIn(who.data);
  else {
    show("signin");
    if (document.activeElement === document.body) $("signin-operator").focus();
  }
  document.body.dataset.ready = "1";
}

document.addEventListener("DOMContentLoaded", boot);
