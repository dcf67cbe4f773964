// The phone's path to the chain: POST /uploads (a presigned form for the upload token's key), the
// photo posted to S3 as it is (HEIC included: the chain decodes it) with its progress, then
// GET /uploads/{id} until the answer is final.
"use strict";

const Send = (() => {
  // Try again later: no signal, a broken upload, a server that did not answer.
  class Later extends Error {}
  // The API refused the photo for good (too large, not a type it takes): say so, do not retry.
  class Refused extends Error {}

  // The phone's own type when the API takes it, else the one for the file's extension (some phones give
  // HEIC no type at all); config.json's upload_types is the chain's table of them (shared/formats.py).
  function contentType(item, types) {
    if (Object.values(types).includes(item.type)) return item.type;
    const extension = String(item.name || "").toLowerCase().split(".").pop();
    return types[extension] || item.type || "application/octet-stream";
  }

  async function api(path, options = {}) {
    let token;
    try { token = await Session.idToken(); } catch (error) { if (error instanceof Session.SignedOut) throw error; throw new Later(error.message); }
    let answer;
    try {
      answer = await fetch(path, { ...options, headers: { ...(options.headers || {}), Authorization: `Bearer ${token}` } });
    } catch (error) { throw new Later(error.message); }
    if (answer.status === 401) { Session.expire(); throw new Later("the session is being renewed"); }
    const body = await answer.json().catch(() => ({}));
    return { status: answer.status, body };
  }

  function post(url, fields, blob, name, onProgress) {
    return new Promise((resolve, reject) => {
      const form = new FormData();
      for (const [field, value] of Object.entries(fields)) form.append(field, value);
      form.append("file", blob, name || "photo"); // the file last: S3 ignores fields after it
      const request = new XMLHttpRequest();
      request.open("POST", url);
      request.upload.onprogress = (event) => { if (event.lengthComputable) onProgress(event.loaded / event.total); };
      request.onload = () => (request.status < 300 ? resolve() : reject(new Later(`S3: HTTP ${request.status}`)));
      request.onerror = () => reject(new Later("the upload broke off"));
      request.onabort = () => reject(new Later("the upload broke off"));
      request.send(form);
    });
  }

  // Sends one outbox item; resolves with its upload id once S3 has the photo. A retry of the same item
  // asks for a form with the same token: the API answers 409 when the photo already arrived (the
  // first try reached S3 but its answer was lost), and the page then only reads its status.
  async function upload(item, driverId, types, onProgress) {
    const { status, body } = await api("uploads", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ content_type: contentType(item, types), size: item.size, upload_token: item.token }),
    });
    if (status === 409) return item.uploadId || `${driverId}.${item.token}`;
    if (status >= 500 || status === 429) throw new Later(`API: HTTP ${status}`);
    if (status !== 201) throw new Refused(body.message || (body.detail && JSON.stringify(body.detail)) || `HTTP ${status}`);
    item.uploadId = body.upload_id;
    await Outbox.put(item);
    await post(body.url, body.fields, item.blob, item.name, onProgress);
    return body.upload_id;
  }

  // The upload's status: pending, routed, manual-review or rejected (null while S3's copy is not yet
  // listed: a 404 right after the post).
  async function status(uploadId) {
    const { status: code, body } = await api(`uploads/${encodeURIComponent(uploadId)}`);
    if (code === 404) return null;
    if (code !== 200) throw new Later(`API: HTTP ${code}`);
    return body;
  }

  async function today() {
    const { status: code, body } = await api("uploads");
    if (code !== 200) throw new Later(`API: HTTP ${code}`);
    return body.uploads;
  }

  return { upload, status, today, Later, Refused };
})();
