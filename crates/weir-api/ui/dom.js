// DOM helpers. Every string a tenant controls (names, descriptions, tags,
// reasons, addresses) reaches the page as a text node through these: the
// console never parses a string as markup (the e2e test greps the files for
// the HTML sinks), and attributes that could run script (on*, href with a
// scheme, style) are refused here.

const SVG_NS = "http://www.w3.org/2000/svg";

function setAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    const k = key.toLowerCase();
    if (k.startsWith("on") || k === "style" || k === "srcdoc") {
      throw new Error(`refused attribute ${key}`);
    }
    if ((k === "href" || k === "src") && !String(value).startsWith("#") && !String(value).startsWith("/")) {
      throw new Error(`refused ${key} outside this origin`);
    }
    el.setAttribute(key, value === true ? "" : String(value));
  }
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** An HTML element: h("td", {class: "x"}, "text", otherNode). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  return append(el, children);
}

/** An SVG element. */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  return append(el, children);
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** Says something to screen readers (the page's polite live region). */
export function announce(text) {
  const status = document.getElementById("status");
  status.textContent = "";
  // A fresh text node in a later task is announced even when it repeats.
  setTimeout(() => { status.textContent = text; }, 30);
}

/** A small state badge: its text is the state, its class the colour. */
export function badge(state) {
  const known = ["healthy", "active", "running", "checking", "pending", "draining",
    "drained", "disabled", "unhealthy", "error", "unsupported", "stopped", "up", "down"];
  const cls = known.includes(state) ? state : "other";
  return h("span", { class: `badge badge-${cls}` }, state ?? "unknown");
}
