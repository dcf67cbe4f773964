// The driver's page: sign in, take the photo with the camera, see it, send it, read the bay.
// Every photo goes through the outbox (IndexedDB) first, so one taken without signal, or whose upload
// broke off, waits on the phone and is sent by itself when the connection returns (the `online` event,
// a retry timer, and the page opening again); the upload token chosen when it was taken makes a retry
// the same upload. The answer is read with GET /uploads/{id} until it is final: every 250 ms while the
// chain is deciding (it takes a fraction of a second), once a second while a dispatcher looks (their
// decision shows within 2 s), and less often for an upload the chain has not decided after a minute.
"use strict";

const POLL_MS = { deciding: 250, reviewing: 1000, late: 1000, stuck: 5000 };
const DECIDING_MS = 10000; // after this long pending, read once a second; after STUCK_MS, every 5 s
const STUCK_MS = 60000;
const TODAYS_UPLOADS = 50; // as many as GET /uploads gives (services/api/service.py)
const RETRY_MS = [2000, 4000, 8000, 15000, 30000];
const $ = (selector) => document.querySelector(selector);

const state = {
  config: null,
  driverId: null,
  current: null, // the token of the photo the answer screen is about
  views: new Map(), // token -> { token, uploadId, state, status, takenAt, sentAt, progress, message }
  today: [], // the API's statuses of today's decided uploads, newest first
  flushing: false,
  again: false, // a flush asked for while one runs (the signal came back mid-way): run once more
  retry: 0,
  timers: { retry: null, poll: null },
};

const t = (key, values) => I18n.t(key, values);
const km = (value) => (value == null ? "" : Number(value).toLocaleString(I18n.language, { maximumFractionDigits: 1 }));
// One formatter per language: building one per row made each render grow with the day's uploads.
const clocks = new Map();
const clock = (iso) => {
  if (!clocks.has(I18n.language)) clocks.set(I18n.language, new Intl.DateTimeFormat(I18n.language, { hour: "2-digit", minute: "2-digit" }));
  return clocks.get(I18n.language).format(new Date(iso));
};

// --- what each state says --------------------------------------------------------------------------

function stateOf(view) {
  if (view.state === "sent") return view.status ? view.status.status : "pending";
  return view.state; // waiting, sending, refused
}

function renderAnswer() {
  const view = state.views.get(state.current);
  const section = $("#answer");
  if (!view) { section.hidden = true; return; }
  const kind = stateOf(view);
  const status = view.status || {};
  let title = "", bay = "", radius = "", sentence = "", retake = false;
  if (kind === "waiting") title = t("waiting_signal");
  else if (kind === "sending") title = t("sending");
  else if (kind === "pending") title = t("checking");
  else if (kind === "routed") { title = t("go_to_bay"); bay = status.bay; radius = t("radius", { km: km(status.radius_km) }); }
  else if (kind === "manual-review") { title = t("reviewing"); sentence = I18n.reason("review", status.reason, status.message); }
  else if (kind === "rejected") { title = t("rejected"); sentence = I18n.reason("reason", status.reason, status.message); retake = true; }
  else if (kind === "refused") { title = t("rejected"); sentence = t("refused", { message: view.message }); retake = true; }
  // The live region changes only when the answer does: a screen reader says each answer once.
  const said = [kind, title, bay, radius, sentence, I18n.language].join("|");
  section.hidden = false;
  const progress = $("#answer-progress");
  progress.hidden = kind !== "sending";
  progress.value = Math.round((view.progress || 0) * 100);
  progress.setAttribute("aria-label", t("progress"));
  if (section.dataset.said === said) return;
  section.dataset.said = said;
  section.className = `answer ${kind}`;
  section.dataset.state = kind;
  $("#answer-title").textContent = title;
  $("#answer-bay").textContent = bay || "";
  $("#answer-bay").hidden = !bay;
  $("#answer-radius").textContent = radius;
  $("#answer-radius").hidden = !radius;
  $("#answer-sentence").textContent = sentence;
  $("#answer-retake").hidden = !retake;
}

function describe(kind, status) {
  if (kind === "routed") return t("state_routed", { bay: status.bay, km: km(status.radius_km) });
  return t(`state_${kind}`);
}

function renderToday() {
  const decided = new Set(state.today.map((s) => s.upload_id));
  const local = [...state.views.values()].filter((v) => !v.uploadId || !decided.has(v.uploadId));
  const rows = [
    ...local.map((v) => ({ when: v.takenAt, kind: stateOf(v), status: v.status || {}, id: v.token })),
    ...state.today.map((s) => ({ when: s.decided_at, kind: s.status, status: s, id: s.upload_id })),
  ].sort((a, b) => String(b.when).localeCompare(String(a.when)));
  $("#today").replaceChildren(...rows.map((row) => el("li", { "data-upload": row.id, "data-state": row.kind },
    el("span", { textContent: describe(row.kind === "refused" ? "rejected" : row.kind, row.status) }),
    el("time", { dateTime: row.when, textContent: clock(row.when) }))));
  $("#none-today").hidden = rows.length > 0;
}

function render() { renderAnswer(); renderToday(); }

// --- the outbox: send what waits, then read the answers ----------------------------------------------

function viewOf(item) {
  const known = state.views.get(item.token);
  const view = known || { token: item.token, takenAt: item.takenAt, status: null, progress: 0 };
  view.uploadId = item.uploadId;
  view.sentAt = view.sentAt || item.sentAt || (item.state === "sent" ? Date.now() : null);
  if (!known || view.state !== "sending") view.state = item.state;
  state.views.set(item.token, view);
  return view;
}

function showConnection() { $("#connection").hidden = navigator.onLine; }

function retryLater() {
  clearTimeout(state.timers.retry);
  const wait = RETRY_MS[Math.min(state.retry, RETRY_MS.length - 1)];
  state.retry += 1;
  state.timers.retry = setTimeout(flush, wait);
}

async function flush() {
  if (!state.driverId) return;
  if (state.flushing) { state.again = true; return; }
  state.flushing = true;
  clearTimeout(state.timers.retry);
  try {
    for (const item of await Outbox.all(state.driverId)) {
      const view = viewOf(item);
      if (item.state !== "waiting") continue;
      if (!navigator.onLine) { view.state = "waiting"; continue; }
      view.state = "sending";
      view.progress = 0;
      render();
      try {
        item.uploadId = await Send.upload(item, state.driverId, state.config.upload_types, (share) => { view.progress = share; renderAnswer(); });
        // S3 has the photo: the bytes leave the phone's storage, the token stays until the answer.
        Object.assign(item, { state: "sent", blob: null, sentAt: Date.now() });
        await Outbox.put(item);
        Object.assign(view, { state: "sent", uploadId: item.uploadId, sentAt: item.sentAt });
        state.retry = 0;
      } catch (error) {
        if (error instanceof Session.SignedOut) { signedOut(t("session_ended")); return; }
        if (error instanceof Send.Refused) {
          Object.assign(view, { state: "refused", message: error.message });
          await Outbox.remove(item.token);
          continue;
        }
        view.state = "waiting"; // no signal, or the upload broke off: the photo stays in the outbox
        if (navigator.onLine) retryLater();
        break;
      }
    }
  } finally {
    state.flushing = false;
    render();
    poll();
    if (state.again) { state.again = false; setTimeout(flush, 0); }
  }
}

// How soon to read an open upload's status again: soon while the chain decides, then less often.
function pollDelay(view) {
  if (stateOf(view) === "manual-review") return POLL_MS.reviewing;
  const pending = Date.now() - (view.sentAt || 0);
  if (pending < DECIDING_MS) return POLL_MS.deciding;
  return pending < STUCK_MS ? POLL_MS.late : POLL_MS.stuck;
}

// A decided upload joins today's list from its own status: no second read of the whole day.
function decidedToday(status) {
  state.today = [status, ...state.today.filter((s) => s.upload_id !== status.upload_id)]
    .sort((a, b) => String(b.decided_at).localeCompare(String(a.decided_at)))
    .slice(0, TODAYS_UPLOADS);
}

async function poll() {
  clearTimeout(state.timers.poll);
  const open = [...state.views.values()].filter((v) => v.state === "sent" && !["routed", "rejected"].includes(stateOf(v)));
  for (const view of open) {
    try {
      const status = await Send.status(view.uploadId);
      if (status) view.status = status;
      if (status && status.status !== "pending") decidedToday(status);
      if (status && (status.status === "routed" || status.status === "rejected")) await Outbox.remove(view.token);
    } catch (error) {
      if (error instanceof Session.SignedOut) { signedOut(t("session_ended")); return; }
      break; // no signal: the next poll tries again
    }
  }
  render();
  const still = open.filter((v) => !["routed", "rejected"].includes(stateOf(v)));
  if (state.driverId && still.length) state.timers.poll = setTimeout(poll, Math.min(...still.map(pollDelay)));
}

async function refreshToday() {
  try { state.today = await Send.today(); } catch (error) { if (error instanceof Session.SignedOut) signedOut(t("session_ended")); }
  renderToday();
}

// --- taking the photo --------------------------------------------------------------------------------

let chosen = null;
let previewUrl = null;

function choose(file) {
  if (!file) return;
  chosen = file;
  if (previewUrl) URL.revokeObjectURL(previewUrl);
  previewUrl = URL.createObjectURL(file);
  $("#preview-image").src = previewUrl;
  $("#preview").hidden = false;
  $("#capture").hidden = true;
  $("#send").focus();
}

function retake() {
  $("#preview").hidden = true;
  $("#capture").hidden = false;
  $("#camera").value = "";
  $("#camera").click();
}

async function send() {
  if (!chosen) return;
  const item = await Outbox.add(state.driverId, chosen, chosen.name, chosen.type);
  chosen = null;
  $("#preview").hidden = true;
  $("#capture").hidden = false;
  state.current = item.token;
  viewOf(item);
  render();
  $("#answer").scrollIntoView({ block: "start" });
  flush();
}

// --- signing in and out ------------------------------------------------------------------------------

function signedOut(message = "") {
  clearTimeout(state.timers.retry);
  clearTimeout(state.timers.poll);
  Object.assign(state, { driverId: null, current: null, today: [] });
  state.views.clear();
  $("#app").hidden = true;
  $("#sign-out").hidden = true;
  $("#sign-in").hidden = false;
  $("#sign-in-error").textContent = message;
}

async function enter(claims) {
  if (!Session.isDriver(claims)) {
    // A dispatcher belongs on the board, not in a loop of refusals here.
    if (Session.isDispatcher(claims)) { location.replace("./"); return; }
    signedOut(t("sign_in_failed"));
    return;
  }
  state.driverId = claims["custom:driver_id"];
  const depot = claims["custom:depot_id"] || state.config.default_depot;
  $("#pick").hidden = !(state.config.gallery_depots || []).includes(depot);
  $("#sign-in").hidden = true;
  $("#app").hidden = false;
  $("#sign-out").hidden = false;
  const waiting = await Outbox.all(state.driverId);
  for (const item of waiting) viewOf(item);
  if (waiting.length) state.current = waiting[waiting.length - 1].token;
  render();
  if (navigator.onLine) refreshToday();
  flush();
}

async function start() {
  state.config = await (await fetch("config.json")).json();
  Session.configure(state.config);
  await I18n.use(I18n.fromPhone());
  const select = $("#language");
  for (const code of I18n.LANGUAGES) select.append(el("option", { value: code, textContent: code }));
  const names = await Promise.all(I18n.LANGUAGES.map((code) => fetch(`assets/lang-${code}.json`).then((r) => r.json()).then((table) => table.language_name).catch(() => code)));
  names.forEach((name, i) => { select.options[i].textContent = name; });
  select.value = I18n.language;
  select.addEventListener("change", async () => { await I18n.use(select.value, true); render(); });

  $("#sign-in").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("#sign-in-error").textContent = "";
    try { await enter(await Session.signIn($("#username").value.trim(), $("#password").value)); }
    catch { $("#sign-in-error").textContent = t("sign_in_failed"); }
    $("#password").value = "";
  });
  $("#sign-out").addEventListener("click", async () => { await Session.signOut(); signedOut(); });
  $("#take").addEventListener("click", () => { $("#camera").value = ""; $("#camera").click(); });
  $("#pick").addEventListener("click", () => { $("#gallery").value = ""; $("#gallery").click(); });
  $("#camera").addEventListener("change", (event) => choose(event.target.files[0]));
  $("#gallery").addEventListener("change", (event) => choose(event.target.files[0]));
  $("#send").addEventListener("click", send);
  $("#retake").addEventListener("click", retake);
  $("#answer-retake").addEventListener("click", () => { state.current = null; renderAnswer(); retake(); });
  window.addEventListener("online", () => { showConnection(); state.retry = 0; flush(); refreshToday(); });
  window.addEventListener("offline", () => { showConnection(); render(); });
  showConnection();

  if (!Session.hasSession()) { signedOut(); return; }
  try { await enter(await Session.claims()); }
  catch (error) {
    if (error instanceof Session.SignedOut) { signedOut(); return; }
    // No signal to renew the session: the page still takes photos for the driver it knows.
    const known = Session.knownClaims();
    if (known) await enter(known); else signedOut();
  }
}

start();
