// Small inline SVG time series: one polyline over the last samples, drawn
// with DOM calls (no markup strings, no inline style, so the page's
// Content-Security-Policy holds).

import { s } from "./dom.js";

const W = 72;
const H = 24;

/**
 * A sparkline of `values` (numbers, oldest first). `label` names the
 * series for assistive technology, with the latest value.
 */
export function sparkline(values, label, unit) {
  const latest = values.length ? values[values.length - 1] : 0;
  const text = `${label}: ${format(latest)} ${unit}`;
  const svg = s("svg", {
    class: "spark", viewBox: `0 0 ${W} ${H}`, width: W, height: H,
    role: "img", "aria-label": text,
  }, s("title", {}, text));
  const max = Math.max(1, ...values);
  const n = Math.max(values.length, 2);
  const points = values.map((v, i) => {
    const x = (i * W) / (n - 1);
    const y = H - 2 - ((H - 4) * v) / max;
    return `${x.toFixed(1)},${y.toFixed(1)}`;
  });
  svg.append(s("line", { x1: 0, y1: H - 1, x2: W, y2: H - 1, class: "axis" }));
  if (points.length > 1) svg.append(s("polyline", { points: points.join(" "), class: "series" }));
  return svg;
}

export function format(v) {
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

/**
 * Per-second rates from counter samples kept per backend: `history` maps
 * an id to [{t, c: {name: total}}], at most `keep` samples.
 */
export class Rates {
  constructor(keep = 60) {
    this.keep = keep;
    this.history = new Map();
  }

  add(id, t, counters) {
    const list = this.history.get(id) ?? [];
    list.push({ t, c: counters });
    while (list.length > this.keep + 1) list.shift();
    this.history.set(id, list);
  }

  /** The rate series of counter `name` (a reset, such as a restart, reads as 0). */
  series(id, name) {
    const list = this.history.get(id) ?? [];
    const out = [];
    for (let i = 1; i < list.length; i++) {
      const dt = (list[i].t - list[i - 1].t) / 1000;
      const dv = list[i].c[name] - list[i - 1].c[name];
      out.push(dt > 0 && dv >= 0 ? dv / dt : 0);
    }
    return out;
  }

  /** Forgets backends no longer listed. */
  retain(ids) {
    for (const id of this.history.keys()) if (!ids.has(id)) this.history.delete(id);
  }
}
