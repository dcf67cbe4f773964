// The dispatch board: sign in with Cognito, then poll GET /board with its cursor once a second.
// Polling, not push: it works unchanged behind API Gateway's HTTP API on AWS (which holds no open
// connection) and against the local stack; each poll returns only what changed since the cursor.
"use strict";

const POLL_MS = 1000;
const state = { config: null, live: false, cursor: null, items: new Map(), timer: null, photos: new Map() };
const $ = (selector, root = document) => root.querySelector(selector);

async function api(path, options = {}) {
  // Sign-in, refresh and sign-out are the one implementation both pages use (assets/session.js).
  let token;
  try { token = await Session.idToken(); } catch (error) { if (error instanceof Session.SignedOut) signOut("your session ended: sign in again"); throw error; }
  const answer = await fetch(path, { ...options, headers: { ...(options.headers || {}), Authorization: `Bearer ${token}` } });
  if (answer.status === 401) { Session.expire(); throw new Error("unauthorized"); }
  const body = await answer.json().catch(() => ({}));
  return { status: answer.status, body };
}

function time(iso) { return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" }); }
// The answer line is the server's (shared/answers.py): the class, "no two-wheeler" or "unsure", with the
// number the rule compared and its threshold, said the same way as every other surface says it.
function card(item, fresh) {
  return el("li", { class: `card${fresh ? " fresh" : ""}`, "data-photo-id": item.photo_id },
    el("div", { class: "row" }, el("strong", { textContent: item.driver_id }), el("span", { class: "muted", textContent: time(item.decided_at) })),
    el("div", { class: "answer", textContent: item.answer }));
}

async function photoUrl(photoId) {
  if (!state.photos.has(photoId)) state.photos.set(photoId, api(`photos/${photoId}`).then((r) => r.body.url));
  return state.photos.get(photoId);
}

function reviewCard(item) {
  const node = card(item, false);
  const img = el("img", { class: "photo", alt: `photo from ${item.driver_id}` });
  photoUrl(item.photo_id).then((url) => { if (url) img.src = url; });
  const choices = el("div", { class: "choices" });
  // One button per class the rules route, and "not a vehicle" (config.json's review_choices).
  for (const choice of state.config.review_choices) {
    const button = el("button", { type: "button", textContent: choice.text, "data-label": choice.label });
    button.addEventListener("click", () => review(item, choice.label, choices));
    choices.append(button);
  }
  node.prepend(img);
  node.append(choices);
  return node;
}

async function review(item, label, choices) {
  for (const button of choices.querySelectorAll("button")) button.disabled = true;
  const { status, body } = await api(`reviews/${item.photo_id}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ label, note: "" }) });
  if (status === 200) setStatus(`${item.driver_id}: ${body.answer}`);
  else if (status === 409) setStatus(`${item.driver_id}: already decided by someone else`);
  else { setStatus(`review failed (${status}): try again`); for (const button of choices.querySelectorAll("button")) button.disabled = false; }
  // The next poll (within a second) brings the reviewed photo back as a change, in its bay.
}

function render(changed) {
  const items = [...state.items.values()].sort((a, b) => b.decided_at.localeCompare(a.decided_at));
  const bays = new Map();
  const waiting = [], rejected = [];
  for (const item of items) {
    if (item.outcome === "manual-review" && !item.review_label) waiting.push(item);
    else if (item.bay) (bays.get(item.bay) || bays.set(item.bay, []).get(item.bay)).push(item);
    else if (item.outcome === "rejected") rejected.push(item);
  }
  waiting.reverse();
  const lane = $("#review-lane ol");
  const shown = new Set([...lane.children].map((n) => n.dataset.photoId));
  for (const node of [...lane.children]) if (!waiting.some((i) => i.photo_id === node.dataset.photoId)) node.remove();
  for (const item of waiting) if (!shown.has(item.photo_id)) lane.append(reviewCard(item));
  $("#review-lane .count").textContent = waiting.length;
  const container = $("#bays");
  container.replaceChildren(...[...bays.keys()].sort().map((bay) => {
    const list = el("ol", {}, ...bays.get(bay).map((i) => card(i, changed.has(i.photo_id))));
    return el("section", { class: "lane", "data-bay": bay }, el("h2", {}, el("span", { textContent: bay }), el("span", { class: "count", textContent: bays.get(bay).length })), list);
  }));
  $("#rejected-lane ol").replaceChildren(...rejected.map((i) => card(i, changed.has(i.photo_id))));
  $("#rejected-lane .count").textContent = rejected.length;
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
      const changed = new Set();
      for (const item of [...Object.values(body.bays).flat(), ...body.manual_review, ...body.rejected]) {
        const known = state.items.get(item.photo_id);
        if (!known || known.decided_at !== item.decided_at || known.outcome !== item.outcome) changed.add(item.photo_id);
        state.items.set(item.photo_id, item);
      }
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
  $("#sign-out").hidden = false;
  poll();
}

function signOut(message = "signed out") {
  clearTimeout(state.timer);
  state.live = false; state.cursor = null; state.items.clear();
  Session.signOut();
  $("#sign-in").hidden = false; $("#board").hidden = true; $("#sign-out").hidden = true;
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
  $("#sign-out").addEventListener("click", () => signOut());
  if (Session.hasSession()) {
    try { open(await Session.claims()); } catch (error) { if (error instanceof Session.SignedOut) signOut(); else setStatus(`offline: ${error.message}`); }
  }
}

start();
