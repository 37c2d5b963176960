// The execution timeline of one image: its states with durations, attempts, retries and errors.
import { ApiError, getTimeline } from "./api.js";
import { el } from "./dom.js";
import { describeError, formatDuration, formatTime } from "./format.js";

/** Fills `section` with the timeline of `record`'s execution (its `.loading` placeholder says what is missing). */
export async function loadTimeline(record, section) {
  const placeholder = section.querySelector(".loading");
  if (!record.executionId && record.status === "PENDING") {
    placeholder.textContent = "The pipeline hasn't started yet for this image.";
    return;
  }
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

/** The readable part of a Step Functions error cause (Lambda's {"errorType","errorMessage"} JSON). */
function parseCause(cause, errorName) {
  if (typeof cause !== "string") return cause ? JSON.stringify(cause) : "";
  try {
    const parsed = JSON.parse(cause);
    if (parsed && typeof parsed === "object" && typeof parsed.errorMessage === "string") {
      return parsed.errorType && parsed.errorType !== errorName
        ? `${parsed.errorType}: ${parsed.errorMessage}`
        : parsed.errorMessage;
    }
  } catch {
    // not JSON: show as is
  }
  return cause;
}

function renderTimeline(timeline) {
  const events = Array.isArray(timeline.events) ? timeline.events : [];
  const fragment = document.createDocumentFragment();
  fragment.append(el("p", { class: "timeline-summary" },
    "Execution ", el("span", { class: "badge" }, String(timeline.status || "unknown")),
    timeline.executionId ? [" ", el("code", { class: "execution-id" }, String(timeline.executionId))] : null));
  if (events.length === 0) {
    fragment.append(el("p", { class: "muted" }, "No states have run yet."));
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
    const failed = /fail/i.test(String(event.type || ""));

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
        ? el("ul", { class: "timeline-errors" }, errors.map((error) => el("li", {},
          el("strong", {}, String(error.error || "Error")), error.cause ? `: ${parseCause(error.cause, error.error)}` : "")))
        : null));
  }
  fragment.append(list);
  return fragment;
}
