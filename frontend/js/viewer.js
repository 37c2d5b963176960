// Viewer for one image: picture with bounding boxes, labels, facts and the execution timeline.
import { ApiError, getImage, pollImage } from "./api.js";
import { announce, el, replaceChildren, safeUrl } from "./dom.js";
import { loadTimeline } from "./timeline.js";
import { STATUS_WORDS, describeError, describeOrientation, formatBytes, formatPercent, formatTime, labelName, summaryNames } from "./format.js";

const BOX_COLOURS = 8;

let current = null; // {id, abort: AbortController}

/** Show image `id` in the viewer section (fetching its record, and polling while it is pending). */
export async function showImage(id) {
  current?.abort.abort();
  const abort = new AbortController();
  current = { id, abort };
  const heading = document.getElementById("viewer-heading");
  const body = document.getElementById("viewer-body");
  heading.textContent = "Image";
  replaceChildren(body, el("p", { class: "loading", role: "status" }, "Loading…"));

  let record;
  try {
    record = await getImage(id);
  } catch (err) {
    if (current?.id !== id) return;
    heading.textContent = "Image not available";
    const message = err instanceof ApiError && err.status === 404
      ? "There is no image with this id. It may have been removed, or the link is wrong."
      : describeError(err);
    replaceChildren(body, el("p", { class: "error", role: "alert" }, message));
    return;
  }
  if (current?.id !== id) return;
  render(record);

  if (record.status === "PENDING") {
    try {
      record = await pollImage(id, { signal: abort.signal });
      if (current?.id !== id) return;
      render(record);
      announce(`${record.filename || "Image"}: ${STATUS_WORDS[record.status] || record.status}.`);
    } catch (err) {
      if (current?.id !== id || abort.signal.aborted) return;
      body.prepend(el("p", { class: "error", role: "alert" }, describeError(err)));
    }
  }
}

/** Stop any polling for the viewer (when leaving it). */
export function closeViewer() {
  current?.abort.abort();
  current = null;
}

function render(record) {
  const heading = document.getElementById("viewer-heading");
  const body = document.getElementById("viewer-body");
  heading.textContent = record.filename || record.imageId || "Image";

  const labels = Array.isArray(record.labels) ? record.labels : [];
  const status = record.status || "PENDING";
  const statusLine = el("p", { class: "viewer-status" },
    el("span", { class: `badge status-${status.toLowerCase()}`, id: "viewer-status" }, STATUS_WORDS[status] || status));
  if (record.error && status !== "DONE") {
    statusLine.append(" ", el("span", { class: "viewer-reason", "data-code": record.error.code || "" }, describeError(record.error)));
  }

  const timeline = el("section", { class: "timeline", "aria-labelledby": "timeline-heading" },
    el("h3", { id: "timeline-heading" }, "Execution timeline"),
    el("p", { class: "loading" }, "Loading the timeline…"));

  replaceChildren(body,
    statusLine,
    el("div", { class: "viewer-layout" },
      renderPicture(record, labels),
      el("div", { class: "viewer-side" },
        renderLabels(labels, status),
        renderFacts(record))),
    timeline,
    renderLinks(record));

  wireHighlights(body);
  loadTimeline(record, timeline);
}

function pickThumbnail(record) {
  const thumbs = Array.isArray(record.thumbnails) ? record.thumbnails.filter((t) => safeUrl(t.url)) : [];
  return thumbs.find((t) => Number(t.size) === 1024)
    ?? thumbs.sort((a, b) => Number(b.size) - Number(a.size))[0]
    ?? null;
}

function renderPicture(record, labels) {
  const figure = el("figure", { class: "picture" });
  const thumb = pickThumbnail(record);
  const originalUrl = safeUrl(record.originalUrl);
  const names = summaryNames(labels, 5);
  const alt = `${record.filename || "Uploaded image"}${names.length ? ` — shows ${names.join(", ")}` : ""}`;
  const src = thumb ? safeUrl(thumb.url) : (record.status === "DONE" ? originalUrl : null);

  if (!src) {
    figure.append(el("div", { class: "picture-placeholder" },
      record.status === "PENDING" ? "The picture appears here once it is processed." : "No picture to show."));
    return figure;
  }

  const img = el("img", { src, alt, class: "picture-img", decoding: "async" });
  if (thumb?.width && thumb?.height) {
    img.width = Number(thumb.width);
    img.height = Number(thumb.height);
  }
  const stage = el("div", { class: "stage" }, img, renderBoxes(labels));
  figure.append(stage);

  const caption = el("figcaption", {}, thumb ? `Thumbnail, ${thumb.width}×${thumb.height}` : "Original");
  if (thumb && originalUrl) {
    let showingOriginal = false;
    const toggle = el("button", { type: "button", class: "link-button", "aria-pressed": "false" }, "Show original");
    toggle.addEventListener("click", () => {
      showingOriginal = !showingOriginal;
      img.src = showingOriginal ? originalUrl : src;
      toggle.textContent = showingOriginal ? "Show thumbnail" : "Show original";
      toggle.setAttribute("aria-pressed", String(showingOriginal));
      caption.textContent = showingOriginal ? "Original" : `Thumbnail, ${thumb.width}×${thumb.height}`;
    });
    figure.append(el("div", { class: "picture-bar" }, caption, toggle));
  } else {
    figure.append(caption);
  }
  return figure;
}

const clampRatio = (v) => Math.min(1, Math.max(0, Number(v) || 0));

function renderBoxes(labels) {
  const layer = el("div", { class: "boxes" });
  labels.forEach((label, index) => {
    const instances = Array.isArray(label.instances) ? label.instances : [];
    for (const instance of instances) {
      const box = instance && instance.boundingBox;
      if (!box) continue;
      const left = clampRatio(box.left);
      const top = clampRatio(box.top);
      const width = Math.min(clampRatio(box.width), 1 - left);
      const height = Math.min(clampRatio(box.height), 1 - top);
      if (width <= 0 || height <= 0) continue;
      const name = labelName(label);
      layer.append(el("div", {
        class: `bbox colour-${index % BOX_COLOURS}${top < 0.06 ? " at-top" : ""}`,
        "data-label-index": index,
        role: "img",
        "aria-label": `${name} at ${formatPercent(instance.confidence ?? label.confidence)}`,
        style: {
          left: `${left * 100}%`, top: `${top * 100}%`, width: `${width * 100}%`, height: `${height * 100}%`,
        },
      }, el("span", { class: "bbox-tag", "aria-hidden": "true" }, `${name} ${formatPercent(instance.confidence ?? label.confidence)}`)));
    }
  });
  return layer;
}

function renderLabels(labels, status) {
  const section = el("section", { class: "labels", "aria-labelledby": "labels-heading" },
    el("h3", { id: "labels-heading" }, "Labels"));
  if (labels.length === 0) {
    const why = {
      DONE: "Nothing recognised in this picture.",
      REJECTED: "No labels: the file was rejected before labelling.",
      FAILED: "No labels: processing failed.",
    };
    section.append(el("p", { class: "muted" }, why[status] || "No labels yet."));
    return section;
  }
  const list = el("ul", { class: "label-list" });
  labels.forEach((label, index) => {
    const name = labelName(label);
    const confidence = Math.min(100, Math.max(0, Number(label.confidence) || 0));
    const count = Array.isArray(label.instances) ? label.instances.length : 0;
    const parents = Array.isArray(label.parents) ? label.parents.map(labelName).filter(Boolean) : [];
    list.append(el("li", { class: "label-item" },
      el("button", {
        type: "button",
        class: `label-button colour-${index % BOX_COLOURS}`,
        "data-label-index": index,
        "aria-pressed": "false",
        title: count ? "Highlight its boxes (press to keep them highlighted)" : null,
      },
      el("span", { class: "label-row" },
        el("span", { class: "label-name" }, name),
        el("span", { class: "label-confidence" }, formatPercent(confidence))),
      el("span", { class: "bar", "aria-hidden": "true" }, el("span", { class: "bar-fill", style: { width: `${confidence}%` } })),
      parents.length || count
        ? el("span", { class: "label-meta" },
          [parents.length ? `in ${parents.join(", ")}` : "", count ? `${count} ${count === 1 ? "box" : "boxes"}` : ""].filter(Boolean).join(" · "))
        : null),
      el("a", { class: "label-search", href: `#/search?label=${encodeURIComponent(name)}&min=50` },
        "Find more", el("span", { class: "visually-hidden" }, ` images with ${name}`))));
  });
  section.append(list);
  return section;
}

/** Hovering/focusing a label highlights its boxes; hovering a box highlights its label. */
function wireHighlights(root) {
  const setHighlight = (index, on) => {
    for (const node of root.querySelectorAll(`[data-label-index="${index}"]`)) node.classList.toggle("highlight", on);
    root.classList.toggle("has-highlight", on || root.querySelector(".pinned") !== null);
  };
  for (const button of root.querySelectorAll(".label-button")) {
    const index = button.dataset.labelIndex;
    const on = () => setHighlight(index, true);
    const off = () => { if (button.getAttribute("aria-pressed") !== "true") setHighlight(index, false); };
    button.addEventListener("mouseenter", on);
    button.addEventListener("focus", on);
    button.addEventListener("mouseleave", off);
    button.addEventListener("blur", off);
    button.addEventListener("click", () => {
      const pinned = button.getAttribute("aria-pressed") !== "true";
      button.setAttribute("aria-pressed", String(pinned));
      for (const node of root.querySelectorAll(`[data-label-index="${index}"]`)) node.classList.toggle("pinned", pinned);
      setHighlight(index, pinned || button.matches(":hover, :focus"));
    });
  }
  for (const box of root.querySelectorAll(".bbox")) {
    const index = box.dataset.labelIndex;
    box.addEventListener("mouseenter", () => setHighlight(index, true));
    box.addEventListener("mouseleave", () => {
      const button = root.querySelector(`.label-button[data-label-index="${index}"]`);
      if (button?.getAttribute("aria-pressed") !== "true") setHighlight(index, false);
    });
  }
}

function fact(term, ...value) {
  return [el("dt", {}, term), el("dd", {}, ...value)];
}

function renderFacts(record) {
  const image = record.image && typeof record.image === "object" ? record.image : {};
  const rows = [];
  if (image.format) rows.push(fact("Format", String(image.format).toUpperCase()));
  if (image.width && image.height) {
    let dims = `${image.width} × ${image.height} px`;
    if (image.orientedWidth && image.orientedHeight
      && (image.orientedWidth !== image.width || image.orientedHeight !== image.height)) {
      dims += ` (shown ${image.orientedWidth} × ${image.orientedHeight})`;
    }
    rows.push(fact("Dimensions", dims));
  }
  if (image.bytes !== undefined) rows.push(fact("Size", `${formatBytes(image.bytes)} (${Number(image.bytes).toLocaleString()} bytes)`));
  if (image.orientation !== undefined) rows.push(fact("EXIF orientation", describeOrientation(image.orientation)));
  if (image.animated === true) rows.push(fact("Animated", "yes"));
  if (record.labelSource) {
    rows.push(fact("Labelled by", [record.labelSource, record.modelVersion].filter(Boolean).map(String).join(", ")));
  }
  if (record.contentType) rows.push(fact("Uploaded as", record.contentType));
  rows.push(fact("Uploaded", formatTime(record.createdAt)));
  if (record.updatedAt) rows.push(fact("Last update", formatTime(record.updatedAt)));
  rows.push(fact("Image id", el("code", {}, record.imageId || "")));

  const section = el("section", { class: "facts", "aria-labelledby": "facts-heading" },
    el("h3", { id: "facts-heading" }, "Image facts"),
    el("dl", { class: "fact-list" }, rows));

  const exif = image.exif && typeof image.exif === "object"
    ? Object.entries(image.exif).filter(([, value]) => value !== null && value !== undefined && value !== "")
    : [];
  if (exif.length > 0) {
    section.append(el("details", { class: "exif" },
      el("summary", {}, `EXIF (${exif.length} ${exif.length === 1 ? "field" : "fields"})`),
      el("dl", { class: "fact-list" }, exif.map(([key, value]) => fact(humanise(key), exifValue(value))))));
  } else if (record.status === "DONE") {
    section.append(el("p", { class: "muted" }, "No EXIF metadata."));
  }
  return section;
}

/** "dateTimeOriginal" -> "Date time original"; other keys as they are. */
function humanise(key) {
  const words = String(key).replace(/([a-z0-9])([A-Z])/g, "$1 $2").replace(/[_-]+/g, " ").trim();
  return words ? words[0].toUpperCase() + words.slice(1).toLowerCase() : String(key);
}

function exifValue(value) {
  if (value === null || value === undefined) return "—";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function renderLinks(record) {
  const links = [];
  const resultUrl = safeUrl(record.resultUrl);
  if (resultUrl) links.push(el("a", { href: resultUrl, target: "_blank", rel: "noopener noreferrer" }, "Result JSON"));
  const originalUrl = safeUrl(record.originalUrl);
  if (originalUrl) links.push(el("a", { href: originalUrl, target: "_blank", rel: "noopener noreferrer" }, "Original file"));
  if (links.length === 0) return null;
  return el("p", { class: "viewer-links" }, links.flatMap((link, i) => (i ? [" · ", link] : [link])));
}
