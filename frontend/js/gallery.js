// Gallery: recent images with "load more", and search by label with a minimum confidence.
import { listRecent, searchByLabel } from "./api.js";
import { el, replaceChildren, safeUrl } from "./dom.js";
import { STATUS_WORDS, describeError, formatPercent, formatTime, labelName } from "./format.js";

const PAGE_SIZE = 24;

/** "cat" -> "Cat", "cell phone" -> "Cell Phone"; mixed-case input is kept as typed. */
export function normaliseLabel(text) {
  const trimmed = text.trim().replace(/\s+/g, " ");
  if (trimmed !== trimmed.toLowerCase()) return trimmed;
  return trimmed.replace(/(^|\s)(\S)/g, (_, space, first) => space + first.toUpperCase());
}

let state = { mode: "recent", label: "", minConfidence: 50, cursor: null, loading: false, token: 0 };

const $ = (id) => document.getElementById(id);

/** Wire the search form and "load more"; navigate(hash) is used to make searches deep-linkable. */
export function initGallery({ navigate }) {
  const range = $("search-min-range");
  const number = $("search-min");
  range.addEventListener("input", () => { number.value = range.value; });
  number.addEventListener("input", () => {
    const n = Number(number.value);
    if (Number.isFinite(n) && number.value !== "") range.value = String(Math.min(100, Math.max(0, n)));
  });

  $("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const label = normaliseLabel($("search-label").value);
    const min = Math.min(100, Math.max(0, Number(number.value) || 0));
    if (!label) {
      navigate("#/");
      return;
    }
    navigate(`#/search?label=${encodeURIComponent(label)}&min=${min}`);
  });
  $("search-clear").addEventListener("click", () => {
    $("search-label").value = "";
    navigate("#/");
  });
  $("gallery-more").addEventListener("click", () => loadPage(false));
}

/** Show recent images (first page). */
export function showRecent() {
  state = { ...state, mode: "recent", label: "", cursor: null };
  return loadPage(true);
}

/** Show images labelled `label` with confidence >= minConfidence (first page). */
export function showSearch(label, minConfidence) {
  const min = Math.min(100, Math.max(0, Number(minConfidence) || 0));
  state = { ...state, mode: "search", label, minConfidence: min, cursor: null };
  $("search-label").value = label;
  $("search-min").value = String(min);
  $("search-min-range").value = String(min);
  return loadPage(true);
}

/** Reload the first page if showing recent images (after an upload finishes). */
export function refreshIfRecent() {
  if (state.mode === "recent" && !state.loading) loadPage(true);
}

async function loadPage(first) {
  const token = ++state.token;
  state.loading = true;
  const grid = $("gallery-grid");
  const caption = $("gallery-caption");
  const more = $("gallery-more");
  more.disabled = true;
  if (first) {
    grid.setAttribute("aria-busy", "true");
    caption.textContent = state.mode === "search"
      ? `Searching for “${state.label}”…`
      : "Loading recent images…";
  }
  try {
    const page = state.mode === "search"
      ? await searchByLabel({ label: state.label, minConfidence: state.minConfidence, limit: PAGE_SIZE, cursor: first ? undefined : state.cursor })
      : await listRecent({ limit: PAGE_SIZE, cursor: first ? undefined : state.cursor });
    if (token !== state.token) return;
    const items = Array.isArray(page.items) ? page.items : [];
    const cards = items.filter((item) => item && typeof item.imageId === "string").map(renderCard);
    if (first) replaceChildren(grid, cards);
    else grid.append(...cards);
    state.cursor = typeof page.cursor === "string" && page.cursor ? page.cursor : null;
    more.hidden = !state.cursor;
    const shown = grid.children.length;
    caption.textContent = describeResults(shown);
  } catch (err) {
    if (token !== state.token) return;
    caption.textContent = `The gallery couldn't be loaded: ${describeError(err)}`;
  } finally {
    if (token === state.token) {
      state.loading = false;
      more.disabled = false;
      grid.removeAttribute("aria-busy");
    }
  }
}

function describeResults(count) {
  if (state.mode === "search") {
    const what = `“${state.label}” at ${formatPercent(state.minConfidence)} or more`;
    if (count === 0) return `No images labelled ${what}.`;
    return `${count} ${count === 1 ? "image" : "images"} labelled ${what}${state.cursor ? " (more available)" : ""}.`;
  }
  if (count === 0) return "No images yet. Upload one above.";
  return `${count} recent ${count === 1 ? "image" : "images"}${state.cursor ? " (more available)" : ""}.`;
}

function renderCard(item) {
  const filename = typeof item.filename === "string" && item.filename ? item.filename : `Image ${item.imageId.slice(0, 8)}`;
  const thumb = safeUrl(item.thumbnailUrl);
  const topLabels = Array.isArray(item.topLabels) ? item.topLabels.map(labelName).filter(Boolean).slice(0, 3) : [];
  const lines = [];
  if (state.mode === "search" && item.label) {
    lines.push(`${item.label} ${formatPercent(item.confidence)}`);
  } else if (topLabels.length) {
    lines.push(topLabels.join(", "));
  }
  const status = typeof item.status === "string" ? item.status : null;
  const alt = `${filename}${topLabels.length ? ` — shows ${topLabels.join(", ")}` : (item.label ? ` — shows ${item.label}` : "")}`;

  return el("li", { class: "gallery-item", "data-image-id": item.imageId },
    el("a", { class: "card", href: `#/images/${encodeURIComponent(item.imageId)}` },
      thumb
        ? el("img", { src: thumb, alt, loading: "lazy", decoding: "async", width: 256, height: 256 })
        : el("span", { class: "card-placeholder", "aria-hidden": "true" }, status === "PENDING" ? "Processing…" : "No preview"),
      el("span", { class: "card-body" },
        el("span", { class: "card-title" }, filename),
        lines.map((line) => el("span", { class: "card-line" }, line)),
        el("span", { class: "card-line muted" },
          status && status !== "DONE" ? el("span", { class: `badge status-${status.toLowerCase()}` }, STATUS_WORDS[status] || status) : null,
          item.createdAt ? ` ${formatTime(item.createdAt)}` : ""))));
}
