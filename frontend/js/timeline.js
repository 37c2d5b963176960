// The execution timeline of one image: its states with durations, attempts, retries and errors
// (each error a code and a sentence; the API keeps execution ids and causes to itself).
import { ApiError, getTimeline } from "./api.js";
import { el } from "./dom.js";
import { describeError, formatDuration, formatTime } from "./format.js";

/** Fills `section` with the timeline of `record`'s execution (its `.loading` placeholder says what is missing). */
export async function loadTimeline(record, section) {
  const placeholder = section.querySelector(".loading");
  let timeline;
  try {
    timeline = await getTimeline(record.imageId);
  } catch (err) {
    placeholder.textContent = err instanceof ApiError && err.status === 404
      ? "No execution was recorded for this image."
      : `The timeline couldn't be loaded: ${describeError(err)}`;
    return;
  }
  placeholder.remove();
  section.append(renderTimeline(timeline));
}

function renderTimeline(timeline) {
  const events = Array.isArray(timeline.events) ? timeline.events : [];
  const fragment = document.createDocumentFragment();
  fragment.append(el("p", { class: "timeline-summary" },
    "Execution ", el("span", { class: "badge" }, String(timeline.status || "unknown")),
    typeof timeline.executionName === "string" && timeline.executionName
      ? [" · ", el("a", { href: `#/executions/${encodeURIComponent(timeline.executionName)}`, class: "execution-open" },
        "Open in the execution console")]
      : null));
  if (events.length === 0) {
    fragment.append(el("p", { class: "muted" }, timeline.status === "PENDING"
      ? "The pipeline hasn't started yet for this image."
      : "No states have run yet."));
    return fragment;
  }

  const times = events.flatMap((e) => [Date.parse(e.enteredAt), Date.parse(e.exitedAt)]).filter(Number.isFinite);
  const start = times.length ? Math.min(...times) : NaN;
  const total = times.length ? Math.max(1, Math.max(...times) - start) : NaN;

  const list = el("ol", { class: "timeline-list" });
  for (const event of events) {
    const errors = Array.isArray(event.errors) ? event.errors : [];
    const attempts = Number.isFinite(Number(event.attempts)) ? Number(event.attempts) : 0;
    const entered = Date.parse(event.enteredAt);
    const duration = Number.isFinite(Number(event.durationMs)) && event.durationMs !== null
      ? Number(event.durationMs)
      : (Number.isFinite(entered) && Number.isFinite(Date.parse(event.exitedAt)) ? Date.parse(event.exitedAt) - entered : NaN);
    const failed = event.status === "FAILED" || /fail/i.test(String(event.type || ""));

    const bar = el("span", { class: "timeline-bar", "aria-hidden": "true" });
    if (Number.isFinite(start) && Number.isFinite(entered)) {
      const offset = ((entered - start) / total) * 100;
      const width = Number.isFinite(duration) ? Math.max(0.8, (duration / total) * 100) : 0.8;
      bar.append(el("span", { class: "timeline-bar-fill", style: { left: `${offset}%`, width: `${Math.min(width, 100 - offset)}%` } }));
    }

    list.append(el("li", { class: `timeline-event${failed ? " failed" : ""}${errors.length ? " has-errors" : ""}` },
      el("div", { class: "timeline-head" },
        el("span", { class: "timeline-state" }, String(event.state || "?")),
        event.type ? el("span", { class: "timeline-type" }, String(event.type)) : null,
        el("span", { class: "timeline-duration" }, formatDuration(duration))),
      bar,
      el("div", { class: "timeline-meta" },
        `Entered ${formatTime(event.enteredAt)}`,
        attempts > 0 ? ` · ${attempts} ${attempts === 1 ? "attempt" : "attempts"}` : "",
        attempts > 1 ? ` (${attempts - 1} ${attempts - 1 === 1 ? "retry" : "retries"})` : ""),
      errors.length
        ? el("ul", { class: "timeline-errors" }, errors.map((error) => el("li", { "data-code": String(error.code || "") },
          el("strong", {}, String(error.code || "Error")), error.message ? `: ${String(error.message)}` : "")))
        : null));
  }
  fragment.append(list);
  return fragment;
}
