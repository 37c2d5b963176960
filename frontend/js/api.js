// Client for the imgpipe HTTP API (see the README's API section) and the signed storage upload.
// The API is on the page's own origin. Every call but GET /config carries the signed-in user's
// access token; see useAuth().

/**
 * How calls are signed in: `accessToken()` resolves to a token or null (signed out),
 * `forceRefresh()` to true when a refused token could be replaced, and `unauthorized()` is told
 * when the user has to sign in again. Without it (no sign-in configured) calls carry no token.
 */
let auth = null;

/** Sign every API call with `source` (see above). */
export function useAuth(source) {
  auth = source;
}

/** An error answer from the API or storage: HTTP status, machine code and a message for people. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }

  /** Worth trying again: network trouble, throttling or a server-side error. */
  get transient() {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

const SIGN_IN_AGAIN = "Your session has ended. Sign in again to continue.";

/** The Authorization header for a call, or none when sign-in is not configured. */
async function authorization() {
  if (!auth) return {};
  let token;
  try {
    token = await auth.accessToken();
  } catch {
    throw new ApiError(0, "NETWORK", "Could not reach the sign-in service. Check your connection and try again.");
  }
  if (!token) {
    auth.unauthorized();
    throw new ApiError(401, "UNAUTHORIZED", SIGN_IN_AGAIN);
  }
  return { Authorization: `Bearer ${token}` };
}

async function request(path, options = {}, { signed = true, retried = false } = {}) {
  let response;
  const headers = { Accept: "application/json", ...(options.headers || {}), ...(signed ? await authorization() : {}) };
  try {
    response = await fetch(path, { ...options, headers });
  } catch (err) {
    throw new ApiError(0, "NETWORK", "Could not reach the server. Check your connection and try again.");
  }
  if (response.status === 401 && signed && auth) {
    // Refused although the clock said it was valid (revoked, or clocks apart): one fresh token, one retry.
    const renewed = !retried && await auth.forceRefresh().catch(() => false);
    if (renewed) return request(path, options, { signed, retried: true });
    auth.unauthorized();
    throw new ApiError(401, "UNAUTHORIZED", SIGN_IN_AGAIN);
  }
  const text = await response.text();
  let body = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
  }
  if (!response.ok) {
    const error = body && typeof body === "object" ? body.error : null;
    const code = error && typeof error.code === "string" ? error.code : `HTTP_${response.status}`;
    const message = error && typeof error.message === "string" && error.message
      ? error.message
      : `The server answered ${response.status} ${response.statusText}.`.trim();
    throw new ApiError(response.status, code, message);
  }
  if (body === null || typeof body !== "object") {
    throw new ApiError(response.status, "BAD_RESPONSE", "The server sent an answer this page doesn't understand.");
  }
  return body;
}

function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

const imagePath = (id) => `/images/${encodeURIComponent(id)}`;

/** POST /uploads: ask for a signed upload. Resolves to {imageId, key, upload: {url, fields}, expiresAt}. */
export function createUpload({ filename, contentType, size }) {
  return request("/uploads", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ filename, contentType, size }),
  });
}

/** GET /config (public): what the page needs to know: the upload limits and how to sign in. */
export function getConfig() {
  return request("/config", {}, { signed: false });
}

/** GET /images/{id}: the image record. */
export function getImage(id) {
  return request(imagePath(id));
}

/** GET /images/{id}/timeline: the execution's states, durations, attempts and errors. */
export function getTimeline(id) {
  return request(`${imagePath(id)}/timeline`);
}

/** GET /executions?status=&limit=&nextToken=: the user's pipeline executions, newest first. */
export function listExecutions({ status, limit = 25, nextToken } = {}) {
  return request(`/executions${query({ status, limit, nextToken })}`);
}

/** GET /executions/{name}: one execution with its state machine graph and event history. */
export function getExecution(name) {
  return request(`/executions/${encodeURIComponent(name)}`);
}

/** GET /images?limit=&cursor=: recent images, newest first. */
export function listRecent({ limit = 24, cursor } = {}) {
  return request(`/images${query({ limit, cursor })}`);
}

/** GET /images?label=&minConfidence=: images with a label at or above a confidence. */
export function searchByLabel({ label, minConfidence, limit = 24, cursor } = {}) {
  return request(`/images${query({ label, minConfidence, limit, cursor })}`);
}

/**
 * POST the file to the signed storage URL as multipart form data: the signed fields first, then
 * `file`. Uses XMLHttpRequest for upload progress; onProgress gets (loadedBytes, totalBytes).
 */
export function uploadToStorage(upload, file, onProgress = () => {}) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const [name, value] of Object.entries(upload.fields || {})) form.append(name, value);
    form.append("file", file);

    const xhr = new XMLHttpRequest();
    xhr.open("POST", upload.url);
    xhr.upload.addEventListener("progress", (event) => {
      onProgress(event.loaded, event.lengthComputable ? event.total : file.size);
    });
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(file.size, file.size);
        resolve();
      } else {
        reject(storageError(xhr.status, xhr.responseText));
      }
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, "NETWORK", "The upload was interrupted. Check your connection and try again.")));
    xhr.addEventListener("abort", () => reject(new ApiError(0, "ABORTED", "The upload was cancelled.")));
    xhr.send(form);
  });
}

/** Turn an S3-style XML error body into an ApiError. */
function storageError(status, body) {
  let code = `HTTP_${status}`;
  let message = `The storage service refused the upload (${status}).`;
  try {
    const doc = new DOMParser().parseFromString(body || "", "application/xml");
    const codeText = doc.querySelector("Error > Code")?.textContent;
    const messageText = doc.querySelector("Error > Message")?.textContent;
    if (codeText) code = codeText;
    if (messageText) message = `The storage service refused the upload: ${messageText}`;
  } catch {
    // keep the generic message
  }
  return new ApiError(status, code, message);
}

const sleep = (ms, signal) => new Promise((resolve, reject) => {
  const timer = setTimeout(resolve, ms);
  signal?.addEventListener("abort", () => {
    clearTimeout(timer);
    reject(new ApiError(0, "ABORTED", "Stopped."));
  }, { once: true });
});

/**
 * Poll GET /images/{id} until the status is no longer PENDING. Starts every `interval` ms and backs
 * off up to `maxInterval`; gives up after `timeoutMs`. Transient errors are retried; others thrown.
 * onUpdate(record) is called with every record fetched.
 */
export async function pollImage(id, {
  onUpdate = () => {}, signal, interval = 700, maxInterval = 5000, backoff = 1.25, timeoutMs = 120000,
} = {}) {
  const started = Date.now();
  const deadline = started + timeoutMs;
  let delay = interval;
  for (;;) {
    if (signal?.aborted) throw new ApiError(0, "ABORTED", "Stopped.");
    try {
      const record = await getImage(id);
      onUpdate(record);
      if (record.status && record.status !== "PENDING") return record;
    } catch (err) {
      // A record that is not there yet right after an upload is worth a few more looks.
      const earlyNotFound = err instanceof ApiError && err.status === 404 && Date.now() - started < 10000;
      if (!(err instanceof ApiError) || !(err.transient || earlyNotFound)) throw err;
    }
    if (Date.now() + delay > deadline) {
      throw new ApiError(0, "TIMEOUT", "This is taking longer than expected. The image may still be processed; check the gallery later.");
    }
    await sleep(delay, signal);
    delay = Math.min(maxInterval, Math.round(delay * backoff));
  }
}
