// The dispatch board: sign in with Cognito, then poll GET /board with its cursor once a second.
// Polling, not push: it works unchanged behind API Gateway's HTTP API on AWS (which holds no open
// connection) and against the local stack; each poll returns only what changed since the cursor, and
// every open review, whatever its age.
// A review is two taps: a choice, then "Confirm" on the same card (or "Back"). A confirmation step,
// not an undo bar: the decision is published the moment it is made (the driver is waiting, and other
// boards follow within a second), so an undo bar would either hold the driver back for its seconds or
// undo a decision subscribers already have; a wrong one that got through is a correction.
"use strict";

const POLL_MS = 1000;
const RENEW_MS = 60 * 1000; // a claim lasts two minutes (services/api/reviews.py); renewed while open
const LANE_SIZE = 6; // the latest cards of each lane; "show more" adds as many again
// `desks` and `histories`: a correction or a history opened on a card of a bay, by photo. The bays are
// drawn again on every poll; what a dispatcher opened goes back on the card drawn in its place.
const state = { config: null, live: false, cursor: null, items: new Map(), waiting: [], timer: null, photos: new Map(), open: new Map(), shown: new Map(), search: "", bayNames: {}, desks: new Map(), histories: new Map() };
const $ = (selector, root = document) => root.querySelector(selector);
// The card of this photo on the page now: a poll may have drawn a new one while a request was out.
const current = (node, photoId) => (node.isConnected ? node : $(`#board [data-photo-id="${CSS.escape(photoId)}"]`) || node);

async function api(path, options = {}) {
  // Sign-in, refresh and sign-out are the one implementation both pages use (assets/session.js).
  let token;
  try { token = await Session.idToken(); } catch (error) { if (error instanceof Session.SignedOut) signOut("your session ended: sign in again"); throw error; }
  const answer = await fetch(path, { ...options, headers: { ...(options.headers || {}), Authorization: `Bearer ${token}` } });
  if (answer.status === 401) { Session.expire(); throw new Error("unauthorized"); }
  const body = await answer.json().catch(() => ({}));
  return { status: answer.status, body };
}
const post = (path, body) => api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body || {}) });

// A time of today as a time; an older one (a weekend's backlog, a history) with its day.
function time(iso) {
  const at = new Date(iso), clock = at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  return at.toDateString() === new Date().toDateString() ? clock : `${at.toLocaleDateString([], { day: "numeric", month: "short" })} ${clock}`;
}
function waited(seconds) {
  const s = Math.floor(seconds), m = Math.floor(s / 60), h = Math.floor(s / 3600), d = Math.floor(s / 86400);
  if (s < 60) return `${s} s`; if (h < 1) return `${m} min`; if (d < 1) return `${h} h ${m % 60} min`; return `${d} d ${h % 24} h`;
}
const me = () => (Session.knownClaims() || {})["cognito:username"];
const labelText = (label) => (state.config.review_choices.find((c) => c.label === label) || { text: label }).text;

// A confirmation that stays until it is dismissed (the next poll does not overwrite it).
function notify(text, kind = "ok") {
  const close = el("button", { type: "button", class: "secondary", textContent: "Dismiss" });
  const node = el("div", { class: `notice ${kind}`, role: "status" }, el("span", { textContent: text }), close);
  close.addEventListener("click", () => node.remove());
  $("#notices").prepend(node);
}

async function photoUrl(photoId) {
  if (!state.photos.has(photoId)) state.photos.set(photoId, api(`photos/${photoId}`).then((r) => r.body.url));
  return state.photos.get(photoId);
}

function thumbnail(item, big) {
  const img = el("img", { class: big ? "photo" : "thumb", alt: `photo from ${item.driver_id}`, loading: "lazy" });
  photoUrl(item.photo_id).then((url) => { if (url) img.src = url; });
  return img;
}

// The answer line is the server's (shared/answers.py), said the same way as every other surface says it.
function card(item, fresh) {
  const node = el("li", { class: `card${fresh ? " fresh" : ""}`, "data-photo-id": item.photo_id });
  const head = el("div", { class: "row" }, el("strong", { textContent: item.driver_id }), el("span", { class: "muted", textContent: time(item.decided_at) }));
  const body = el("div", { class: "body" }, el("div", { class: "answer", textContent: item.answer }));
  if (item.original_name) body.append(el("div", { class: "muted name", textContent: item.original_name }));
  if (item.reason_text) body.append(el("div", { class: "reason", textContent: item.reason_text }));
  if (item.note) body.append(el("div", { class: "note", textContent: `“${item.note}” — ${item.reviewer}` }));
  node.append(el("div", { class: "media" }, thumbnail(item, item.outcome === "manual-review" && !item.review_label), el("div", {}, head, body)));
  if (item.review_number) {
    const history = el("button", { type: "button", class: "secondary small", textContent: "History", "data-action": "history" });
    const correct = el("button", { type: "button", class: "secondary small", textContent: "Correct", "data-action": "correct" });
    history.addEventListener("click", () => showHistory(item, node));
    correct.addEventListener("click", () => openCard(item, node));
    node.append(el("div", { class: "tools" }, history, correct));
    if (fresh) state.histories.delete(item.photo_id); // a new decision: the history shown is out of date
    for (const part of [state.histories.get(item.photo_id), state.desks.get(item.photo_id)]) if (part) node.append(part);
  }
  return node;
}

async function showHistory(item, node) {
  const existing = state.histories.get(item.photo_id);
  if (existing) { existing.remove(); state.histories.delete(item.photo_id); return; }
  const { status, body } = await api(`reviews/${item.photo_id}`);
  if (status !== 200) { notify(`history: HTTP ${status}`, "error"); return; }
  const list = el("ol", { class: "history" }, ...body.reviews.map((r) => el("li", { "data-review": r.number },
    el("strong", { textContent: `${r.number}. ${r.reviewer}: ${r.label_text}${r.bay ? ` → ${r.bay}` : ""}` }),
    el("span", { class: "muted", textContent: ` ${time(r.reviewed_at)}${r.replaces ? ` · replaces ${r.replaces}` : ""}` }),
    r.note ? el("div", { class: "note", textContent: `“${r.note}”` }) : "")));
  state.histories.set(item.photo_id, list);
  current(node, item.photo_id).append(list);
}

function reviewCard(item) {
  const node = card(item, false);
  node.append(el("div", { class: "wait", textContent: "" }), el("div", { class: "desk" }));
  const open = el("button", { type: "button", textContent: "Review", "data-action": "open" });
  open.addEventListener("click", () => openCard(item, node));
  $(".desk", node).append(open);
  updateReviewCard(item, node);
  return node;
}

function updateReviewCard(item, node) {
  $(".wait", node).textContent = `waiting ${waited(item.waiting_s)}`;
  const other = item.claim && item.claim.by !== me();
  node.classList.toggle("claimed", Boolean(other));
  const openButton = $("[data-action=open]", node);
  if (openButton) {
    openButton.disabled = Boolean(other);
    openButton.textContent = other ? `${item.claim.by} is looking` : "Review";
  }
}

// Opening a card claims it (409: someone else is looking); the choices, a note, then the confirmation.
async function openCard(item, node) {
  const { status, body } = await post(`claims/${item.photo_id}`);
  if (status !== 200) { notify(`${item.driver_id}: ${body.message || `HTTP ${status}`}`, "error"); return; }
  const renew = setInterval(() => post(`claims/${item.photo_id}`), RENEW_MS);
  state.open.set(item.photo_id, renew);
  const desk = el("div", { class: "desk open" });
  const note = el("input", { type: "text", placeholder: "note (optional)", maxLength: 500, name: "note", ariaLabel: "note" });
  const choices = el("div", { class: "choices" });
  const close = () => { clearInterval(renew); state.open.delete(item.photo_id); state.desks.delete(item.photo_id); api(`claims/${item.photo_id}`, { method: "DELETE" }); desk.remove(); };
  for (const choice of state.config.review_choices) {
    const button = el("button", { type: "button", textContent: choice.text, "data-label": choice.label });
    button.addEventListener("click", () => confirmStep(item, choice, note, desk, close));
    choices.append(button);
  }
  const cancel = el("button", { type: "button", class: "secondary", textContent: "Close", "data-action": "close" });
  cancel.addEventListener("click", close);
  const heading = item.review_number ? `Correct review ${item.review_number} (${labelText(item.review_label)})` : "What is it?";
  desk.append(el("div", { class: "muted", textContent: heading }), choices, note, cancel);
  const shown = current(node, item.photo_id);
  const closed = $(".desk", shown);
  if (closed) closed.replaceWith(desk); // the review lane keeps its cards across polls
  else { state.desks.set(item.photo_id, desk); shown.append(desk); } // a correction, on a card of a bay
}

function confirmStep(item, choice, note, desk, close) {
  const yes = el("button", { type: "button", textContent: `Confirm: ${choice.text}`, "data-action": "confirm" });
  const back = el("button", { type: "button", class: "secondary", textContent: "Back" });
  const step = el("div", { class: "confirm" }, el("div", { textContent: `${item.driver_id}: ${choice.text}?` }), yes, back);
  for (const child of desk.children) child.hidden = true;
  desk.append(step);
  back.addEventListener("click", () => { step.remove(); for (const child of desk.children) child.hidden = false; });
  yes.addEventListener("click", async () => {
    yes.disabled = true;
    const request = { label: choice.label, note: note.value.trim() };
    const path = item.review_number ? `reviews/${item.photo_id}/corrections` : `reviews/${item.photo_id}`;
    const { status, body } = await post(path, item.review_number ? { ...request, replaces: item.review_number } : request);
    if (status === 200) { notify(`${item.driver_id}: ${body.answer}`); clearInterval(state.open.get(item.photo_id)); state.open.delete(item.photo_id); state.desks.delete(item.photo_id); desk.remove(); }
    else { notify(`${item.driver_id}: ${body.message || `failed (HTTP ${status})`}`, "error"); close(); }
    // The next poll (within a second) brings the decided photo back as a change, in its lane.
  });
}

function matches(item) {
  const q = state.search;
  return !q || item.driver_id.toLowerCase().includes(q) || (item.original_name || "").toLowerCase().includes(q);
}

function lane(key, title, code, items, changed) {
  const limit = state.shown.get(key) || LANE_SIZE;
  const list = el("ol", {}, ...items.slice(0, limit).map((i) => card(i, changed.has(i.photo_id))));
  const section = el("section", { class: "lane", "data-bay": code || key },
    el("h2", {}, el("span", {}, title, code ? el("small", { class: "code", textContent: ` ${code}` }) : ""), el("span", { class: "count", textContent: items.length })), list);
  if (items.length > limit) {
    const more = el("button", { type: "button", class: "secondary more", textContent: `show more (${items.length - limit})` });
    more.addEventListener("click", () => { state.shown.set(key, limit + LANE_SIZE); render(new Set()); });
    section.append(more);
  }
  return section;
}

function render(changed) {
  const items = [...state.items.values()].filter(matches).sort((a, b) => b.decided_at.localeCompare(a.decided_at));
  const bays = new Map();
  const rejected = [];
  for (const item of items) {
    if (item.bay) (bays.get(item.bay) || bays.set(item.bay, []).get(item.bay)).push(item);
    else if (item.outcome === "rejected") rejected.push(item);
  }
  // The review lane is the server's, whole, in every answer: cards already shown keep their state.
  const waiting = state.waiting.filter(matches);
  const list = $("#review-lane ol");
  const wanted = new Map(waiting.map((i) => [i.photo_id, i]));
  for (const node of [...list.children]) if (!wanted.has(node.dataset.photoId)) node.remove();
  const shown = new Map([...list.children].map((n) => [n.dataset.photoId, n]));
  for (const item of waiting) {
    const node = shown.get(item.photo_id);
    if (node) { updateReviewCard(item, node); list.append(node); } else list.append(reviewCard(item));
  }
  $("#review-lane .count").textContent = waiting.length;
  $("#oldest").textContent = state.waiting.length ? `oldest waiting ${waited(state.waiting[0].waiting_s)}` : "nobody waiting";
  $("#bays").replaceChildren(...[...bays.keys()].sort().map((bay) => lane(bay, state.bayNames[bay] || bay, bay, bays.get(bay), changed)));
  $("#rejected-lane").replaceWith(Object.assign(lane("rejected", "Rejected", "", rejected, changed), { id: "rejected-lane" }));
}

async function poll() {
  clearTimeout(state.timer);
  try {
    const query = state.cursor ? `?cursor=${encodeURIComponent(state.cursor)}` : "";
    const { status, body } = await api(`board${query}`);
    if (status === 200) {
      if (body.full || body.day !== state.day) state.items.clear();
      state.day = body.day;
      state.cursor = body.cursor;
      state.bayNames = body.bay_names || {};
      state.waiting = body.manual_review;
      const changed = new Set();
      for (const item of [...Object.values(body.bays).flat(), ...body.rejected]) {
        const known = state.items.get(item.photo_id);
        if (!known || known.decided_at !== item.decided_at || known.outcome !== item.outcome) changed.add(item.photo_id);
        state.items.set(item.photo_id, item);
      }
      for (const item of body.manual_review) state.items.delete(item.photo_id);
      $("#day").textContent = `${body.depot_id} · ${body.day}`;
      render(changed);
      setStatus(`live · updated ${new Date().toLocaleTimeString()}`);
    } else setStatus(`board: HTTP ${status}`);
  } catch (error) {
    if (!state.live) return;
    setStatus(`offline: ${error.message}`);
  }
  if (state.live) state.timer = setTimeout(poll, POLL_MS);
}

function setStatus(text) { $("#status").textContent = text; }

function showBoard() {
  $("#sign-in").hidden = true;
  $("#board").hidden = false;
  $("#tools").hidden = false;
  $("#sign-out").hidden = false;
  poll();
}

function signOut(message = "signed out") {
  clearTimeout(state.timer);
  state.live = false; state.cursor = null; state.items.clear(); state.waiting = [];
  Session.signOut();
  $("#sign-in").hidden = false; $("#board").hidden = true; $("#tools").hidden = true; $("#sign-out").hidden = true;
  setStatus(message);
}

// A driver who signs in here belongs on the driver's page: the board would only answer 403.
function open(claims) {
  if (Session.isDriver(claims)) { location.replace("driver"); return; }
  state.live = true;
  showBoard();
}

async function start() {
  state.config = await (await fetch("config.json")).json();
  Session.configure(state.config);
  $("#sign-in").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("#sign-in-error").textContent = "";
    try { open(await Session.signIn($("#username").value.trim(), $("#password").value)); }
    catch (error) { $("#sign-in-error").textContent = error.message; }
  });
  $("#search").addEventListener("input", (event) => { state.search = event.target.value.trim().toLowerCase(); render(new Set()); });
  $("#sign-out").addEventListener("click", () => signOut());
  if (Session.hasSession()) {
    try { open(await Session.claims()); } catch (error) { if (error instanceof Session.SignedOut) signOut(); else setStatus(`offline: ${error.message}`); }
  }
}

start();
