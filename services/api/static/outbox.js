// Photos waiting on the phone (IndexedDB) until the API and S3 have them: a photo taken without signal,
// or whose upload broke halfway, is kept here with the upload token chosen when it was taken, and sent
// again with that same token, so a retry names the same upload and never makes a second one.
"use strict";

const Outbox = (() => {
  const DB = "driver-routing";
  const STORE = "outbox";
  let opened = null;

  function db() {
    opened = opened || new Promise((resolve, reject) => {
      const request = indexedDB.open(DB, 1);
      request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: "token" });
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    return opened;
  }

  async function run(mode, work) {
    const database = await db();
    return new Promise((resolve, reject) => {
      const tx = database.transaction(STORE, mode);
      const result = work(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(result && "result" in result ? result.result : undefined);
      tx.onerror = () => reject(tx.error);
    });
  }

  // 128 random bits as 32 hex digits (what the API takes as upload_token); crypto.randomUUID needs a
  // secure context, which a phone on the depot's network reaching http://LAN-ADDRESS is not.
  function newToken() {
    return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
  }

  // state: "waiting" (not yet with S3), "sent" (S3 has it; the answer is awaited), per driver.
  async function add(driverId, blob, name, type) {
    const item = { token: newToken(), driverId, blob, name, type, size: blob.size, takenAt: new Date().toISOString(), state: "waiting", uploadId: null };
    await run("readwrite", (store) => store.put(item));
    return item;
  }

  async function put(item) { await run("readwrite", (store) => store.put(item)); }
  async function remove(token) { await run("readwrite", (store) => store.delete(token)); }

  async function all(driverId) {
    const items = await run("readonly", (store) => store.getAll());
    return (items || []).filter((item) => item.driverId === driverId).sort((a, b) => a.takenAt.localeCompare(b.takenAt));
  }

  return { add, put, remove, all };
})();
