// Small DOM helpers. Every string from the server goes in through text nodes
// (never innerHTML), and every URL through safeUrl().

/**
 * Create an element. Props become attributes ("class", "dataset" and "on<event>" are special);
 * children are nodes or strings (strings become text nodes, so they are never parsed as HTML).
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "style") Object.assign(node.style, value);
    else if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else node.setAttribute(key, value === true ? "" : String(value));
  }
  appendChildren(node, children);
  return node;
}

function appendChildren(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
}

/** Replace all children of `node`. */
export function replaceChildren(node, ...children) {
  node.replaceChildren();
  appendChildren(node, children);
}

/** An http(s) URL resolved against the page, or null for anything else (javascript:, data:, junk). */
export function safeUrl(value) {
  if (typeof value !== "string" || value === "") return null;
  try {
    const url = new URL(value, window.location.href);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

const announcer = () => document.getElementById("announcer");

/** Say something to screen readers through the page's polite live region. */
export function announce(message) {
  const region = announcer();
  if (!region) return;
  region.textContent = "";
  // A fresh text node after a tick so repeated messages are announced again.
  setTimeout(() => { region.textContent = message; }, 50);
}
