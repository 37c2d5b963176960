// An execution's event history: one row per event with its time since the start, the state it
// belongs to, the attempt of a task call (a retry says so), the error as code + sentence, and the
// input and output, and the workflow variables a state assigned, as expandable JSON (always as
// text, never parsed as markup).
import { el } from "./dom.js";
import { describeError, formatDuration } from "./format.js";

/** Event types in words where the raw name is not plain enough. */
function eventWords(type) {
  return String(type || "Event").replace(/([a-z])([A-Z])/g, "$1 $2");
}

function json(value) {
  try {
    return JSON.stringify(value, null, 2) ?? String(value);
  } catch {
    return String(value);
  }
}

function payload(label, value, id) {
  if (value === null || value === undefined) return null;
  const text = json(value);
  return el("details", { class: "payload", "data-kind": label.toLowerCase() },
    el("summary", {}, `${label} `, el("span", { class: "muted" }, `(${text.length.toLocaleString()} characters)`),
      el("span", { class: "visually-hidden" }, ` of event ${id}`)),
    el("pre", { tabindex: "0" }, el("code", {}, text)));
}

/** The history list of `execution` (GET /executions/{name}). */
export function renderHistory(execution) {
  const events = Array.isArray(execution.events) ? execution.events.filter((e) => e && typeof e === "object") : [];
  if (events.length === 0) return el("p", { class: "muted" }, "No events yet.");
  const start = Date.parse(events[0].timestamp);
  const list = el("ol", { class: "history-list" });
  for (const event of events) {
    const at = Date.parse(event.timestamp);
    const attempt = Number(event.attempt);
    const retry = Number.isInteger(attempt) && attempt > 1;
    const failed = Boolean(event.error);
    list.append(el("li", {
      class: `history-event${failed ? " failed" : ""}${retry ? " retry" : ""}`,
      "data-type": String(event.type || ""),
      "data-state": typeof event.state === "string" ? event.state : null,
      "data-id": String(event.id ?? ""),
    },
    el("div", { class: "history-head" },
      el("span", { class: "history-id" }, `#${event.id ?? "?"}`),
      el("span", { class: "history-type" }, eventWords(event.type)),
      typeof event.state === "string" ? el("span", { class: "history-state" }, event.state) : null,
      Number.isInteger(attempt) && attempt > 0
        ? el("span", { class: "badge history-attempt" }, retry ? `Attempt ${attempt} (retry ${attempt - 1})` : "Attempt 1")
        : null,
      el("span", { class: "history-time", title: String(event.timestamp || "") },
        Number.isFinite(at) && Number.isFinite(start) ? `+${formatDuration(at - start)}` : "—")),
    failed
      ? el("p", { class: "history-error", "data-code": String(event.error.code || "") },
        el("strong", {}, String(event.error.code || "Error")), `: ${describeError(event.error)}`)
      : null,
    payload("Input", event.input, event.id),
    payload("Output", event.output, event.id),
    payload("Variables", event.variables, event.id)));
  }
  const fragment = document.createDocumentFragment();
  fragment.append(list);
  if (execution.eventsTruncated) fragment.append(el("p", { class: "muted" }, "Later events are not shown."));
  return fragment;
}
