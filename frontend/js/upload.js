// Upload panel: drop zone + file picker, client-side checks, signed upload with progress, live status.
import { ApiError, createUpload, pollImage, uploadToStorage } from "./api.js";
import { announce, el } from "./dom.js";
import { describeError, formatBytes, summaryNames } from "./format.js";

/** How many files upload at the same time. */
const CONCURRENCY = 3;

/**
 * A sentence saying why `file` can't be uploaded, or null when it passes the client-side checks.
 * `limits` is the server's (`GET /config`); without them only the server checks.
 */
export function checkFile(file, limits) {
  if (file.size === 0) return "The file is empty — there is no picture in it.";
  if (!limits) return null;
  const types = Array.isArray(limits.contentTypes) ? limits.contentTypes : [];
  if (!types.includes(file.type)) {
    const kind = file.type ? `This file's type is ${file.type}.` : "This file's type is unknown.";
    return `${kind} Only ${typeNames(types)} images can be uploaded.`;
  }
  if (Number.isFinite(limits.maxBytes) && file.size > limits.maxBytes) {
    return `The file is ${formatBytes(file.size)}; images can be at most ${formatBytes(limits.maxBytes)}.`;
  }
  return null;
}

/** "JPEG, PNG, WebP and GIF" from content types. */
export function typeNames(types) {
  const names = types.map((t) => ({ "image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WebP", "image/gif": "GIF" })[t] || t);
  return names.length > 1 ? `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}` : (names[0] || "no");
}

/** The server's upload limits, once loaded. */
let limits = null;

/** Shows the server's limits (`GET /config`) in the picker and its hint. */
function applyLimits(input, serverLimits) {
  limits = serverLimits || null;
  if (!limits) return; // the server still checks every upload
  input.accept = (limits.contentTypes || []).join(",");
  const hint = document.getElementById("upload-hint");
  if (hint) {
    hint.textContent = `${typeNames(limits.contentTypes || [])}, up to ${formatBytes(limits.maxBytes)} each. Several at once is fine.`;
  }
}

const STATUS_TEXT = {
  queued: "Waiting",
  requesting: "Preparing upload",
  uploading: "Uploading",
  processing: "Processing",
  done: "Done",
  rejected: "Rejected",
  failed: "Failed",
  invalid: "Not uploaded",
  signin: "Waiting for sign-in",
};

/** One row in the upload list, updated as the file moves through the pipeline. */
class UploadItem {
  constructor(file) {
    this.file = file;
    this.progress = el("progress", { max: "100", value: "0", "aria-label": `Upload progress of ${file.name}` });
    this.statusText = el("span", { class: "status-text" });
    this.message = el("p", { class: "upload-message" });
    this.detail = el("p", { class: "upload-detail" });
    this.actions = el("p", { class: "upload-actions" });
    this.node = el("li", { class: "upload-item" },
      el("div", { class: "upload-head" },
        el("span", { class: "upload-name" }, file.name),
        el("span", { class: "upload-size" }, formatBytes(file.size)),
        el("span", { class: "badge" }, this.statusText)),
      this.progress, this.message, this.detail, this.actions);
  }

  setStatus(status, message = "", detail = "") {
    this.status = status;
    this.node.dataset.status = status;
    this.statusText.textContent = STATUS_TEXT[status] ?? status;
    this.message.textContent = message;
    this.message.hidden = !message;
    this.detail.textContent = detail && detail !== message ? detail : "";
    this.detail.hidden = !this.detail.textContent;
  }

  setProgress(loaded, total) {
    const percent = total > 0 ? Math.min(100, Math.round((loaded / total) * 100)) : 0;
    this.progress.value = percent;
    this.progress.textContent = `${percent}%`;
  }

  linkToViewer(imageId, text) {
    this.actions.replaceChildren(el("a", { href: `#/images/${encodeURIComponent(imageId)}`, class: "view-link" }, text));
  }
}

/**
 * Wire the upload panel. `limits` are the server's (`GET /config`). onFinished(record) is called
 * when an image reaches a final status (so the gallery can refresh). Returns `addFiles(files)`
 * and `waitingFiles()`: the files whose upload stopped because the session ended, to keep
 * across a new sign-in.
 */
export function initUpload({ limits: serverLimits, onFinished = () => {} } = {}) {
  const zone = document.getElementById("drop-zone");
  const input = document.getElementById("file-input");
  const list = document.getElementById("upload-list");
  applyLimits(input, serverLimits);
  const queue = [];
  let running = 0;

  const pump = () => {
    while (running < CONCURRENCY && queue.length > 0) {
      const item = queue.shift();
      running += 1;
      runUpload(item, onFinished).finally(() => {
        running -= 1;
        pump();
      });
    }
  };

  const addFiles = (files) => {
    const items = [...files].map((file) => new UploadItem(file));
    for (const item of items) {
      list.prepend(item.node);
      const problem = checkFile(item.file, limits);
      if (problem) {
        item.progress.hidden = true;
        item.setStatus("invalid", problem);
        announce(`${item.file.name}: not uploaded. ${problem}`);
      } else {
        item.setStatus("queued");
        queue.push(item);
      }
    }
    if (items.length > 1) announce(`${items.length} files added.`);
    pump();
  };

  zone.addEventListener("click", () => input.click());
  input.addEventListener("change", () => {
    if (input.files && input.files.length > 0) addFiles(input.files);
    input.value = "";
  });

  // Dragging over the zone (or anywhere on the page) drops into the upload list.
  const hasFiles = (event) => [...(event.dataTransfer?.types || [])].includes("Files");
  let depth = 0;
  document.addEventListener("dragenter", (event) => {
    if (!hasFiles(event)) return;
    depth += 1;
    zone.classList.add("dragging");
  });
  document.addEventListener("dragleave", (event) => {
    if (!hasFiles(event)) return;
    depth = Math.max(0, depth - 1);
    if (depth === 0) zone.classList.remove("dragging");
  });
  document.addEventListener("dragover", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  });
  document.addEventListener("drop", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    depth = 0;
    zone.classList.remove("dragging");
    if (event.dataTransfer.files.length > 0) addFiles(event.dataTransfer.files);
  });

  const waitingFiles = () => [...list.querySelectorAll(".upload-item[data-status='signin']")]
    .map((node) => waiting.get(node)).filter(Boolean);

  return { addFiles, waitingFiles };
}

/** Files stopped by an ended session, by their row. */
const waiting = new WeakMap();

async function runUpload(item, onFinished) {
  const { file } = item;
  let imageId = null;
  try {
    item.setStatus("requesting");
    const grant = await createUpload({ filename: file.name, contentType: file.type, size: file.size });
    imageId = grant.imageId;
    if (typeof imageId !== "string" || !grant.upload || typeof grant.upload.url !== "string") {
      throw new ApiError(0, "BAD_RESPONSE", "The server's upload answer is missing the upload address.");
    }
    item.node.dataset.imageId = imageId;

    item.setStatus("uploading");
    announce(`${file.name}: uploading.`);
    await uploadToStorage(grant.upload, file, (loaded, total) => item.setProgress(loaded, total));

    item.setStatus("processing", "Checking the image, finding what's in it and making thumbnails…");
    announce(`${file.name}: uploaded, processing.`);
    const record = await pollImage(imageId);
    finish(item, record);
    onFinished(record);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401 && !imageId) {
      // Nothing was sent: keep the file, and upload it once the user has signed in again.
      waiting.set(item.node, file);
      item.setStatus("signin", "Your session ended before this file was sent. It will upload after you sign in again.");
      announce(`${file.name}: waiting for you to sign in again.`);
      return;
    }
    const code = err instanceof ApiError ? err.code : "ERROR";
    const message = err instanceof ApiError ? describeError({ code, message: err.message }) : String(err);
    item.node.dataset.code = code;
    // A 400 answer means the server refused this file (its message is shown too); anything else failed.
    const refused = err instanceof ApiError && err.status === 400 && !imageId;
    item.setStatus(refused ? "invalid" : "failed", message, err instanceof ApiError ? err.message : "");
    if (imageId && code === "TIMEOUT") item.linkToViewer(imageId, "Check its status");
    announce(`${file.name}: ${refused ? "not uploaded" : "failed"}. ${message}`);
  }
}

function finish(item, record) {
  const name = item.file.name;
  if (record.status === "DONE") {
    const labels = summaryNames(record.labels, 4);
    const found = labels.length ? `Found: ${labels.join(", ")}.` : "No labels found.";
    item.setStatus("done", found);
    item.linkToViewer(record.imageId, "View results");
    announce(`${name}: done. ${found}`);
  } else if (record.status === "REJECTED") {
    const error = record.error || {};
    item.node.dataset.code = error.code || "";
    item.setStatus("rejected", describeError(error), typeof error.message === "string" ? error.message : "");
    item.linkToViewer(record.imageId, "Details");
    announce(`${name}: rejected. ${describeError(error)}`);
  } else {
    const error = record.error || {};
    item.node.dataset.code = error.code || "";
    const message = `Processing failed: ${describeError(error)}`;
    item.setStatus("failed", message);
    item.linkToViewer(record.imageId, "Details");
    announce(`${name}: failed. ${message}`);
  }
}
