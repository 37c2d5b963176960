// The state machine of one execution as an SVG graph: states in rows by their longest distance
// from StartAt (the Next chain from StartAt in the first column), Next/Choice/Default edges solid,
// Catch edges dashed, the path the execution took drawn bold, and each state coloured by what
// happened to it (the outcome word is written in the box too, so colour is never the only cue).
// Every name goes in through text nodes.

const SVG = "http://www.w3.org/2000/svg";
const NODE_W = 176;
const NODE_H = 48;
const GAP_X = 36;
const GAP_Y = 52;
const PAD = 12;
/** Room on the left for edges that skip rows (they arc out there rather than cross boxes). */
const GUTTER = 64;

/** Words for the server's state outcomes. */
export const OUTCOME_WORDS = {
  SUCCEEDED: "Succeeded",
  FAILED: "Failed",
  CAUGHT: "Caught",
  RETRIED: "Retried",
  RUNNING: "Running",
  NOT_REACHED: "Not reached",
};

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) node.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/**
 * Positions for the graph's states: {name: {x, y}} and the drawing's width and height.
 * Ranks are longest paths over the edges that do not close a cycle.
 */
export function layout(graph) {
  const names = graph.states.map((s) => s.name);
  const known = new Set(names);
  const edges = graph.edges.filter((e) => known.has(e.from) && known.has(e.to));
  const out = new Map(names.map((n) => [n, []]));
  for (const e of edges) out.get(e.from).push(e.to);

  // Edges that close a cycle (found by a depth-first walk from StartAt, then from any state left).
  const back = new Set();
  const colour = new Map();
  const visit = (start) => {
    const stack = [[start, 0]];
    colour.set(start, 1);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const next = out.get(top[0])[top[1]++];
      if (next === undefined) {
        colour.set(top[0], 2);
        stack.pop();
      } else if (colour.get(next) === 1) {
        back.add(`${top[0]}\u0000${next}`);
      } else if (!colour.has(next)) {
        colour.set(next, 1);
        stack.push([next, 0]);
      }
    }
  };
  if (known.has(graph.startAt)) visit(graph.startAt);
  for (const n of names) if (!colour.has(n)) visit(n);

  // Longest path ranks over the forward edges (Kahn's order).
  const rank = new Map(names.map((n) => [n, 0]));
  const indegree = new Map(names.map((n) => [n, 0]));
  const forward = edges.filter((e) => !back.has(`${e.from}\u0000${e.to}`) && e.from !== e.to);
  for (const e of forward) indegree.set(e.to, indegree.get(e.to) + 1);
  const queue = names.filter((n) => indegree.get(n) === 0);
  while (queue.length) {
    const n = queue.shift();
    for (const e of forward.filter((f) => f.from === n)) {
      rank.set(e.to, Math.max(rank.get(e.to), rank.get(n) + 1));
      indegree.set(e.to, indegree.get(e.to) - 1);
      if (indegree.get(e.to) === 0) queue.push(e.to);
    }
  }

  // The Next chain from StartAt leads each row; the rest follow under their predecessors (the
  // mean column of those placed in earlier rows), then in document order.
  const chain = new Set();
  for (let n = graph.startAt; known.has(n) && !chain.has(n);) {
    chain.add(n);
    n = edges.find((e) => e.from === n && e.kind === "NEXT")?.to;
  }
  const rows = [];
  for (const n of names) (rows[rank.get(n)] ||= []).push(n);
  const column = new Map();
  const under = (n) => {
    const placed = forward.filter((e) => e.to === n && column.has(e.from)).map((e) => column.get(e.from));
    return placed.length ? placed.reduce((a, b) => a + b, 0) / placed.length : Infinity;
  };
  const positions = {};
  let columns = 1;
  rows.forEach((row, r) => {
    const order = row
      .map((n, i) => ({ n, key: [chain.has(n) ? 0 : 1, under(n), i] }))
      .sort((a, b) => a.key[0] - b.key[0] || a.key[1] - b.key[1] || a.key[2] - b.key[2])
      .map((x) => x.n);
    columns = Math.max(columns, order.length);
    order.forEach((n, c) => {
      column.set(n, c);
      positions[n] = { x: GUTTER + c * (NODE_W + GAP_X), y: PAD + r * (NODE_H + GAP_Y) };
    });
  });
  return {
    positions,
    width: GUTTER + PAD + columns * NODE_W + (columns - 1) * GAP_X,
    height: PAD * 2 + rows.length * NODE_H + Math.max(0, rows.length - 1) * GAP_Y,
  };
}

function edgePath(from, to) {
  const x1 = from.x + NODE_W / 2;
  const x2 = to.x + NODE_W / 2;
  const rowsDown = Math.round((to.y - from.y) / (NODE_H + GAP_Y));
  if (rowsDown > 1) {
    // Skipping rows: leave and enter on the left, arcing through the gutter (wider for longer spans).
    const y1 = from.y + NODE_H / 2;
    const y2 = to.y + NODE_H / 2;
    const bulge = Math.min(GUTTER - 4, 14 + 9 * rowsDown);
    return `M${from.x},${y1} C${from.x - bulge},${y1} ${to.x - bulge},${y2} ${to.x},${y2}`;
  }
  if (to.y > from.y) {
    const y1 = from.y + NODE_H;
    const y2 = to.y;
    const bend = Math.max(18, (y2 - y1) / 2);
    return `M${x1},${y1} C${x1},${y1 + bend} ${x2},${y2 - bend} ${x2},${y2}`;
  }
  // Same row or upwards: leave and enter from the right, curving outside the boxes.
  const right = Math.max(from.x, to.x) + NODE_W;
  const y1 = from.y + NODE_H / 2;
  const y2 = to.y + NODE_H / 2;
  return `M${from.x + NODE_W},${y1} C${right + 40},${y1} ${right + 40},${y2} ${to.x + NODE_W},${y2}`;
}

function describeEdge(e) {
  const kind = { NEXT: "Next", DEFAULT: "Default", CHOICE: "Choice", CATCH: "Catch" }[e.kind] || String(e.kind);
  return `${e.from} → ${e.to}: ${kind}${e.label ? ` (${e.label})` : ""}${e.taken ? ", taken" : ""}`;
}

function stateLine(state) {
  const word = OUTCOME_WORDS[state.outcome] || String(state.outcome);
  const attempts = Number(state.attempts) || 0;
  return attempts > 1 ? `${word} · ${attempts} attempts` : word;
}

/** The SVG drawing of `graph` (the `graph` member of GET /executions/{name}). */
export function renderGraph(graph, { titleId }) {
  const states = Array.isArray(graph?.states) ? graph.states.filter((s) => s && typeof s.name === "string") : [];
  const edges = Array.isArray(graph?.edges) ? graph.edges.filter((e) => e && typeof e.from === "string" && typeof e.to === "string") : [];
  const { positions, width, height } = layout({ startAt: graph?.startAt, states, edges });
  const drawing = svg("svg", {
    class: "graph",
    viewBox: `0 0 ${width + 60} ${height}`,
    width: width + 60,
    height,
    role: "img",
    "aria-labelledby": titleId,
  });
  const summary = states.map((s) => `${s.name}: ${OUTCOME_WORDS[s.outcome] || s.outcome}`).join("; ");
  drawing.append(svg("title", { id: titleId }, `State machine graph. ${summary}.`));
  drawing.append(svg("defs", {},
    svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
      svg("path", { d: "M0,0 L10,5 L0,10 z", class: "arrow-head" }))));

  const edgeLayer = svg("g", { class: "edges" });
  // Edges the execution did not take first, so the taken path is drawn over them.
  for (const e of [...edges].sort((a, b) => Number(Boolean(a.taken)) - Number(Boolean(b.taken)))) {
    const from = positions[e.from];
    const to = positions[e.to];
    if (!from || !to) continue;
    edgeLayer.append(svg("path", {
      d: edgePath(from, to),
      class: `edge edge-${String(e.kind).toLowerCase()}${e.taken ? " taken" : ""}`,
      "marker-end": "url(#arrow)",
      "data-from": e.from,
      "data-to": e.to,
    }, svg("title", {}, describeEdge(e))));
  }
  drawing.append(edgeLayer);

  for (const s of states) {
    const at = positions[s.name];
    const outcome = String(s.outcome || "NOT_REACHED").toLowerCase().replace(/_/g, "-");
    drawing.append(svg("g", {
      class: `node outcome-${outcome}${s.name === graph?.startAt ? " start" : ""}`,
      transform: `translate(${at.x},${at.y})`,
      "data-state": s.name,
      "data-outcome": s.outcome,
    },
    svg("title", {}, `${s.name} (${s.type}): ${stateLine(s)}${s.failures ? `, ${s.failures} failed` : ""}`),
    svg("rect", { width: NODE_W, height: NODE_H, rx: s.type === "Succeed" || s.type === "Fail" ? 24 : 8 }),
    svg("text", { x: NODE_W / 2, y: 20, class: "node-name" }, clip(s.name, 22)),
    svg("text", { x: NODE_W / 2, y: 37, class: "node-outcome" }, clip(`${s.type} · ${stateLine(s)}`, 28))));
  }
  return drawing;
}

function clip(text, max) {
  const value = String(text);
  return value.length > max ? `${value.slice(0, max - 1)}…` : value;
}
