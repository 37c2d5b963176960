// The execution console: the user's pipeline executions (status, start, duration, image) with a
// status filter and "load more", and one execution drawn as its state machine's graph with its
// event history. Routes (see app.js):
//   #/executions?status=FAILED   the list
//   #/executions/<name>          one execution
import { ApiError, getExecution, listExecutions } from "./api.js";
import { announce, el, replaceChildren } from "./dom.js";
import { describeError, formatDuration, formatTime } from "./format.js";
import { OUTCOME_WORDS, renderGraph } from "./graph.js";
import { renderHistory } from "./history.js";

const PAGE_SIZE = 25;
/** Pages fetched in a row while they hold none of the user's executions. */
const MAX_EMPTY_PAGES = 4;

/** Words for execution statuses. */
export const EXECUTION_WORDS = {
  RUNNING: "Running",
  SUCCEEDED: "Succeeded",
  FAILED: "Failed",
  TIMED_OUT: "Timed out",
  ABORTED: "Aborted",
  PENDING_REDRIVE: "Pending redrive",
};
const FILTERS = ["", "RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"];

const $ = (id) => document.getElementById(id);
let view = { token: 0, status: "", nextToken: null };

function statusBadge(status) {
  const value = String(status || "");
  return el("span", { class: `badge run-${value.toLowerCase().replace(/_/g, "-")}`, "data-status": value },
    EXECUTION_WORDS[value] || value || "Unknown");
}

function imageLink(item) {
  if (typeof item.imageId !== "string") return "—";
  const label = typeof item.filename === "string" && item.filename ? item.filename : `Image ${item.imageId.slice(0, 8)}`;
  return el("a", { href: `#/images/${encodeURIComponent(item.imageId)}`, class: "image-link" }, label);
}

function durationOf(item) {
  if (item.durationMs !== null && item.durationMs !== undefined) return formatDuration(item.durationMs);
  return item.status === "RUNNING" ? "running…" : "—";
}

/** Show the list of executions, filtered by `status` ("" for all). */
export function showExecutions(status) {
  const token = ++view.token;
  view = { token, status: FILTERS.includes(status) ? status : "", nextToken: null };
  const body = $("console-body");
  $("console-heading").textContent = "Executions";
  const select = el("select", { id: "console-status", name: "status" },
    FILTERS.map((value) => el("option", { value, selected: value === view.status }, value ? EXECUTION_WORDS[value] : "All statuses")));
  select.addEventListener("change", () => {
    window.location.hash = select.value ? `#/executions?status=${select.value}` : "#/executions";
  });
  const rows = el("tbody", { id: "console-rows" });
  const more = el("button", { type: "button", id: "console-more", hidden: true }, "Load more");
  more.addEventListener("click", () => loadRows(token));
  replaceChildren(body,
    el("form", { class: "search console-filter", role: "search", "aria-label": "Filter executions", onsubmit: (e) => e.preventDefault() },
      el("div", { class: "field" }, el("label", { for: "console-status" }, "Status"), select)),
    el("p", { class: "gallery-caption", id: "console-caption", "aria-live": "polite" }, "Loading executions…"),
    el("div", { class: "table-frame" },
      el("table", { class: "executions" },
        el("caption", { class: "visually-hidden" }, "Pipeline executions, newest first"),
        el("thead", {}, el("tr", {},
          ["Name", "Status", "Started", "Duration", "Image"].map((h) => el("th", { scope: "col" }, h)))),
        rows)),
    el("p", { class: "gallery-more" }, more));
  return loadRows(token);
}

async function loadRows(token) {
  const rows = $("console-rows");
  const caption = $("console-caption");
  const more = $("console-more");
  more.disabled = true;
  rows.setAttribute("aria-busy", "true");
  try {
    // A page may hold none of the user's executions (the server looks at a bounded number per
    // call): look a few pages further before saying so.
    for (let fetched = 1; ; fetched += 1) {
      const page = await listExecutions({ status: view.status, limit: PAGE_SIZE, nextToken: view.nextToken ?? undefined });
      if (token !== view.token) return;
      view.nextToken = typeof page.nextToken === "string" && page.nextToken ? page.nextToken : null;
      const items = Array.isArray(page.items) ? page.items.filter((i) => i && typeof i.name === "string") : [];
      rows.append(...items.map(renderRow));
      if (items.length > 0 || !view.nextToken || fetched > MAX_EMPTY_PAGES) break;
    }
    const count = rows.children.length;
    const which = view.status ? `${EXECUTION_WORDS[view.status].toLowerCase()} ` : "";
    caption.textContent = count === 0
      ? `No ${which}executions${view.nextToken ? " yet; load more to look further back" : ""}.`
      : `${count} ${which}${count === 1 ? "execution" : "executions"}${view.nextToken ? " (more available)" : ""}.`;
    more.hidden = !view.nextToken;
  } catch (err) {
    if (token !== view.token) return;
    caption.textContent = `The executions couldn't be loaded: ${describeError(err)}`;
  } finally {
    if (token === view.token) {
      more.disabled = false;
      rows.removeAttribute("aria-busy");
    }
  }
}

function renderRow(item) {
  return el("tr", { class: "execution-row", "data-name": item.name, "data-status": String(item.status || "") },
    el("td", {}, el("a", { href: `#/executions/${encodeURIComponent(item.name)}`, class: "execution-link" }, el("code", {}, item.name))),
    el("td", {}, statusBadge(item.status)),
    el("td", {}, formatTime(item.startedAt)),
    el("td", { class: "number" }, durationOf(item)),
    el("td", {}, imageLink(item)));
}

/** Show execution `name`: its facts, graph and history. */
export async function showExecution(name) {
  const token = ++view.token;
  const heading = $("console-heading");
  const body = $("console-body");
  heading.textContent = "Execution";
  replaceChildren(body, el("p", { class: "loading", role: "status" }, "Loading the execution…"));
  let execution;
  try {
    execution = await getExecution(name);
  } catch (err) {
    if (token !== view.token) return;
    heading.textContent = "Execution not available";
    replaceChildren(body, backLink(), el("p", { class: "error", role: "alert" }, err instanceof ApiError && err.status === 404
      ? "There is no execution with this name among yours."
      : describeError(err)));
    return;
  }
  if (token !== view.token) return;
  heading.textContent = `Execution ${execution.name}`;
  renderExecution(body, execution);
  announce(`Execution ${EXECUTION_WORDS[execution.status] || execution.status}.`);
}

function backLink() {
  return el("p", { class: "back" }, el("a", { href: "#/executions" }, "← All executions"));
}

function renderExecution(body, execution) {
  const statusLine = el("p", { class: "viewer-status" }, statusBadge(execution.status));
  if (execution.error) {
    statusLine.append(" ", el("span", { class: "viewer-reason", "data-code": String(execution.error.code || "") },
      el("strong", {}, String(execution.error.code || "Error")), `: ${describeError(execution.error)}`));
  }
  const facts = el("dl", { class: "fact-list" },
    fact("Started", formatTime(execution.startedAt)),
    fact("Stopped", execution.stoppedAt ? formatTime(execution.stoppedAt) : "—"),
    fact("Duration", durationOf(execution)),
    fact("Image", imageLink(execution)));
  const graph = execution.graph && Array.isArray(execution.graph.states) ? execution.graph : { states: [], edges: [] };
  replaceChildren(body,
    backLink(),
    statusLine,
    facts,
    el("section", { class: "graph-section", "aria-labelledby": "graph-heading" },
      el("h3", { id: "graph-heading" }, "State machine"),
      legend(),
      el("div", { class: "graph-frame" }, renderGraph(graph, { titleId: "graph-title" })),
      stateList(graph)),
    el("section", { class: "history", "aria-labelledby": "history-heading" },
      el("h3", { id: "history-heading" }, "Event history"),
      renderHistory(execution)));
}

function fact(term, value) {
  return [el("dt", {}, term), el("dd", {}, value)];
}

function legend() {
  return el("ul", { class: "graph-legend", "aria-label": "Colours" },
    Object.entries(OUTCOME_WORDS).map(([key, word]) =>
      el("li", {}, el("span", { class: `swatch outcome-${key.toLowerCase().replace(/_/g, "-")}`, "aria-hidden": "true" }), word)));
}

/** The graph's facts as text, for readers that do not see the drawing. */
function stateList(graph) {
  return el("details", { class: "state-list" },
    el("summary", {}, "States as a list"),
    el("ul", {}, graph.states.map((s) => el("li", { "data-state": s.name },
      el("strong", {}, s.name), ` (${s.type}): ${OUTCOME_WORDS[s.outcome] || s.outcome}`,
      Number(s.attempts) > 0 ? `, ${s.attempts} ${Number(s.attempts) === 1 ? "attempt" : "attempts"}` : ""))));
}
