// The console: sign-in, a hash router, and the views of load balancers,
// their listeners, pools and backends. It calls only the native /v1 API
// (api.js); tenant strings reach the page through dom.js as text only.

import { call, get, seg, token, signIn, signOut, ApiError } from "./api.js";
import { h, fill, announce, badge } from "./dom.js";
import { sparkline, format, Rates } from "./chart.js";
import { follow } from "./watch.js";
import { adminView } from "./admin.js";

/** How often a view re-reads what it shows. */
const POLL_MS = 1000;
const MAX_CHANGES = 50;

const $ = (id) => document.getElementById(id);
const session = { admin: false, watch: null, poll: null, names: new Map(), view: 0 };

// --- sign-in ---------------------------------------------------------------

async function start() {
  $("signin-form").addEventListener("submit", onSignIn);
  $("signout").addEventListener("click", onSignOut);
  window.addEventListener("hashchange", () => route(true));
  if (token()) await enter();
  else showSignIn();
}

function showSignIn(message) {
  stopPolling();
  session.watch?.stop();
  session.watch = null;
  $("signin").hidden = false;
  $("view").hidden = true;
  $("changes-panel").hidden = true;
  $("signout").hidden = true;
  fill($("who"));
  fill($("crumbs"));
  $("signin-error").textContent = message ?? "";
  $("token").focus();
}

async function onSignIn(event) {
  event.preventDefault();
  const value = $("token").value.trim();
  if (!value) {
    $("signin-error").textContent = "Enter a token.";
    return;
  }
  signIn(value);
  $("token").value = "";
  await enter();
}

function onSignOut() {
  signOut();
  session.admin = false;
  showSignIn("Signed out.");
}

async function enter() {
  try {
    await get("/v1/loadbalancers");
  } catch (e) {
    signOut();
    showSignIn(e instanceof ApiError && e.status === 401
      ? "That token was not accepted." : `Could not reach the API: ${e.message}`);
    return;
  }
  try {
    // The cluster's nodes are the operator's alone (a project token: 403).
    await get("/v1/nodes");
    session.admin = true;
  } catch {
    session.admin = false;
  }
  $("signin").hidden = true;
  $("view").hidden = false;
  $("signout").hidden = false;
  $("changes-panel").hidden = false;
  fill($("who"), session.admin ? "admin" : "project");
  fill($("changes"));
  session.watch = follow(onChange, (state) => { $("watch-state").textContent = `Watch: ${state}`; });
  await route(true);
}

// --- routing ---------------------------------------------------------------

function stopPolling() {
  clearTimeout(session.poll);
  session.poll = null;
}

/** Renders the view the hash names; `moved` focuses its heading. */
async function route(moved) {
  if (!token()) return;
  stopPolling();
  const view = ++session.view;
  const [, kind, id] = (location.hash || "#/").split("/");
  const root = $("view");
  let render;
  if (kind === "lb" && id) render = () => lbView(root, decodeURIComponent(id));
  else if (kind === "pool" && id) render = () => poolView(root, decodeURIComponent(id));
  else if (kind === "admin" && session.admin) render = () => adminView(root, crumbs);
  else render = () => homeView(root);
  try {
    await render();
  } catch (e) {
    if (view !== session.view) return;
    if (e instanceof ApiError && e.status === 401) {
      signOut();
      showSignIn("The token is no longer accepted; sign in again.");
      return;
    }
    fill(root, h("h1", { tabindex: -1 }, "Not available"), h("p", { class: "error", role: "alert" }, e.message));
  }
  if (moved && view === session.view) root.querySelector("h1")?.focus();
}

/** Polls `step` while the view that started it is shown. */
function poll(step) {
  const view = session.view;
  const tick = async () => {
    if (view !== session.view || !token()) return;
    try {
      await step();
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        signOut();
        showSignIn("The token is no longer accepted; sign in again.");
        return;
      }
      // Anything else (a restart, a network blip): the next tick retries.
    }
    if (view === session.view) session.poll = setTimeout(tick, POLL_MS);
  };
  session.poll = setTimeout(tick, POLL_MS);
}

/**
 * Replaces a polled table only when what it shows changed, and keeps the
 * keyboard focus on the same link (a re-read must not throw a keyboard
 * user back to the top of the page).
 */
function swapTable(root, fresh) {
  const old = root.querySelector(".table-wrap");
  if (!old || old.textContent === fresh.textContent) return;
  const focused = old.contains(document.activeElement) ? document.activeElement.getAttribute("href") : null;
  old.replaceWith(fresh);
  if (focused) [...fresh.querySelectorAll("a")].find((a) => a.getAttribute("href") === focused)?.focus();
}

function crumbs(...items) {
  const list = h("ol");
  const all = [["Load balancers", "#/"], ...items];
  all.forEach(([label, href], i) => {
    const last = i === all.length - 1;
    list.append(h("li", {}, last ? h("span", { "aria-current": "page" }, label) : h("a", { href }, label)));
  });
  if (session.admin) list.append(h("li", { class: "admin-link" }, h("a", { href: "#/admin" }, "Admin")));
  fill($("crumbs"), list);
}

const nameOf = (x) => (x.name ? x.name : x.id);

/** Learns a resource's name, and names it in changes listed before. */
function remember(kind, x) {
  const label = `${kind} ${nameOf(x)}`;
  if (session.names.get(x.id) === label) return;
  session.names.set(x.id, label);
  for (const el of document.querySelectorAll(`#changes [data-subject="${CSS.escape(x.id)}"]`)) el.textContent = label;
}

function table(caption, headers, rows, empty) {
  const wrap = h("div", { class: "table-wrap" });
  const t = h("table", {}, h("caption", {}, caption),
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))));
  const body = h("tbody");
  if (rows.length === 0) body.append(h("tr", {}, h("td", { colspan: headers.length, class: "muted" }, empty)));
  body.append(...rows);
  t.append(body);
  wrap.append(t);
  return wrap;
}

function facts(pairs) {
  const dl = h("dl", { class: "facts" });
  for (const [k, v] of pairs) dl.append(h("dt", {}, k), h("dd", {}, v ?? "—"));
  return dl;
}

function liveState(op) {
  return op ? [badge(op.state), op.reason ? h("span", { class: "reason" }, op.reason) : null] : h("span", { class: "muted" }, "no data plane");
}

// --- load balancers ---------------------------------------------------------

async function homeView(root) {
  const view = session.view;
  crumbs();
  const draw = async () => {
    const { loadbalancers } = await get("/v1/loadbalancers");
    loadbalancers.forEach((lb) => remember("load balancer", lb));
    const rows = loadbalancers.map((lb) => h("tr", { "data-id": lb.id },
      h("th", { scope: "row" }, h("a", { href: `#/lb/${seg(lb.id)}` }, nameOf(lb))),
      h("td", {}, lb.vip),
      h("td", {}, badge(lb.status)),
      h("td", {}, liveState(lb.operating_status))));
    return table("Load balancers", ["Name", "VIP", "Status", "Operating status"], rows, "No load balancers yet.");
  };
  const first = await draw();
  if (view !== session.view) return;
  fill(root, h("h1", { tabindex: -1 }, "Load balancers"), first);
  poll(async () => swapTable(root, await draw()));
}

async function lbView(root, id) {
  const view = session.view;
  const lb = await get(`/v1/loadbalancers/${seg(id)}`);
  if (view !== session.view) return;
  remember("load balancer", lb);
  crumbs([nameOf(lb), `#/lb/${seg(lb.id)}`]);
  const draw = async () => {
    const { listeners } = await get(`/v1/loadbalancers/${seg(id)}/listeners`);
    listeners.forEach((l) => remember("listener", l));
    const rows = listeners.map((l) => h("tr", { "data-id": l.id },
      h("th", { scope: "row" }, nameOf(l)),
      h("td", {}, l.protocol),
      h("td", {}, l.port ?? (l.all_ports ? "all" : (l.port_ranges ?? []).map((r) => `${r.start}-${r.end}`).join(", "))),
      h("td", {}, l.enabled === false ? badge("disabled") : liveState(l.operating_status)),
      h("td", {}, h("a", { href: `#/pool/${seg(l.default_pool_id)}`, "aria-label": `Backends of listener ${nameOf(l)}` }, "Backends"))));
    return table("Listeners", ["Name", "Protocol", "Port", "State", "Pool"], rows, "No listeners.");
  };
  const first = await draw();
  if (view !== session.view) return;
  fill(root,
    h("h1", { tabindex: -1 }, `Load balancer ${nameOf(lb)}`),
    facts([["ID", lb.id], ["VIP", lb.vip], ["Status", badge(lb.status)],
      ["Operating status", liveState(lb.operating_status)], ["Description", lb.description || null],
      ["Tags", lb.tags.length ? lb.tags.join(", ") : null],
      ["Load-balancer-wide pool", h("a", { href: `#/pool/${seg(lb.default_pool_id)}` }, "Backends")]]),
    first);
  poll(async () => swapTable(root, await draw()));
}

// --- pools and backends -----------------------------------------------------

async function poolView(root, id) {
  const view = session.view;
  const pool = await get(`/v1/pools/${seg(id)}`);
  remember("pool", pool);
  const lb = await get(`/v1/loadbalancers/${seg(pool.load_balancer_id)}`).catch(() => null);
  if (view !== session.view) return;
  crumbs(...(lb ? [[nameOf(lb), `#/lb/${seg(lb.id)}`]] : []), [`Pool ${nameOf(pool)}`, `#/pool/${seg(pool.id)}`]);
  const hc = pool.health_check;
  const rates = new Rates(60);
  const rows = new Map();
  const draining = new Map();
  const tbody = h("tbody");
  const headers = ["Backend", "Weight", "State", "Open", "Requests/s", "Connections/s", "Errors/s", "Actions"];
  const tableEl = h("table", { id: "backends" }, h("caption", { class: "visually-hidden" }, "Backends"),
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))), tbody);
  const counts = h("p", { class: "muted", id: "backend-count" });

  const refresh = async () => {
    const { backends, next_marker: more } = await get(`/v1/pools/${seg(id)}/backends?limit=1000`);
    const now = Date.now();
    const seen = new Set();
    for (const b of backends) {
      seen.add(b.id);
      remember("backend", b);
      const st = b.status;
      if (st) rates.add(b.id, now, { req: st.requests, conn: st.total_connections, err: st.failures + st.responses_5xx });
      if (st?.state === "draining") { if (!draining.has(b.id)) draining.set(b.id, now); } else draining.delete(b.id);
      let row = rows.get(b.id);
      if (!row) {
        row = backendRow(b, refresh);
        rows.set(b.id, row);
        tbody.append(row.tr);
      }
      row.update(b, rates, draining.get(b.id), pool.drain_timeout_ms, now);
    }
    for (const [bid, row] of rows) if (!seen.has(bid)) { row.tr.remove(); rows.delete(bid); }
    rates.retain(seen);
    counts.textContent = more ? `the first ${backends.length} backends (the CLI lists all)`
      : `${backends.length} backend${backends.length === 1 ? "" : "s"}`;
    tbody.querySelector(".empty")?.remove();
    if (backends.length === 0) tbody.append(h("tr", { class: "empty" }, h("td", { colspan: headers.length, class: "muted" }, "No backends registered.")));
  };

  fill(root,
    h("h1", { tabindex: -1 }, `Pool ${nameOf(pool)}`),
    facts([["ID", pool.id],
      ["Health check", hc ? `${hc.type} every ${hc.interval_ms} ms, rise ${hc.rise}, fall ${hc.fall}${hc.path ? `, ${hc.path}` : ""}` : "none (a backend is healthy while it is enabled)"],
      ["Drain timeout", `${pool.drain_timeout_ms} ms`], ["Slow start", pool.slow_start_ms ? `${pool.slow_start_ms} ms` : "off"],
      ["Enabled", pool.enabled ? "yes" : "no"]]),
    h("section", { "aria-labelledby": "backends-title" },
      h("h2", { id: "backends-title" }, "Backends"), counts,
      h("div", { class: "table-wrap" }, tableEl)),
    registerForm(id, refresh));
  await refresh();
  poll(refresh);
}

/** One backend's row: built once, updated in place so inputs keep focus. */
function backendRow(b, refresh) {
  const name = h("span", { class: "name" });
  const address = h("span", { class: "reason address" });
  const weight = h("td");
  const state = h("td", { class: "state" });
  const conns = h("td", { class: "num" });
  const req = h("td", { class: "chart" });
  const conn = h("td", { class: "chart" });
  const err = h("td", { class: "chart" });
  const label = () => nameOf(current);
  let current = b;
  let shownWeight = b.weight;

  const weightInput = h("input", { type: "number", min: 0, max: 65535, value: b.weight, id: `weight-${b.id}`, class: "weight", inputmode: "numeric" });
  const weightLabel = h("label", { for: `weight-${b.id}`, class: "visually-hidden" });
  const setWeight = h("button", { type: "button", class: "set-weight" }, "Set");
  const toggle = h("button", { type: "button", class: "toggle" });
  const remove = h("button", { type: "button", class: "deregister danger" }, "Deregister");
  weight.append(weightLabel, weightInput, setWeight);

  setWeight.addEventListener("click", () => {
    // An empty or fractional field is not silently a weight of 0; the API
    // holds the range.
    const w = weightInput.valueAsNumber;
    if (!Number.isInteger(w)) {
      flash(`The weight of ${label()} must be a whole number.`, true);
      weightInput.focus();
      return;
    }
    act(`Set the weight of ${label()} to ${w}?`, "Set weight",
      () => call("PATCH", `/v1/backends/${seg(current.id)}`, { weight: w }),
      `Weight of ${label()} set to ${w}.`, refresh);
  });
  toggle.addEventListener("click", () => {
    const enable = !current.enabled;
    act(enable ? `Enable ${label()}? It takes new connections once healthy.`
      : `Disable ${label()}? It takes no new connections; open ones drain until the pool's drain timeout.`,
    enable ? "Enable" : "Disable and drain",
    () => call("PATCH", `/v1/backends/${seg(current.id)}`, { enabled: enable }),
    `${label()} ${enable ? "enabled" : "disabled; draining"}.`, refresh);
  });
  remove.addEventListener("click", () => act(`Deregister ${label()}? It drains, then leaves the pool.`,
    "Deregister", () => call("DELETE", `/v1/backends/${seg(current.id)}`), `${label()} deregistered.`, refresh));

  const tr = h("tr", { "data-id": b.id }, h("th", { scope: "row" }, name, address), weight, state, conns, req, conn, err,
    h("td", { class: "actions" }, toggle, remove));

  return {
    tr,
    update(b2, rates, drainSince, drainMs, now) {
      const renamed = current.name !== b2.name || !name.firstChild;
      current = b2;
      if (renamed) fill(name, nameOf(b2));
      fill(address, `${b2.address}${b2.port ? `:${b2.port}` : ""}${b2.ports ? `:${b2.ports.join(",")}` : ""}`);
      weightLabel.textContent = `Weight of ${nameOf(b2)}`;
      // An edit not yet applied stays in the field unless the weight itself
      // changed on the server (another operator, the CLI).
      if (b2.weight !== shownWeight) {
        shownWeight = b2.weight;
        weightInput.value = b2.weight;
      }
      toggle.textContent = b2.enabled ? "Disable" : "Enable";
      toggle.setAttribute("aria-label", `${b2.enabled ? "Disable" : "Enable"} ${nameOf(b2)}`);
      remove.setAttribute("aria-label", `Deregister ${nameOf(b2)}`);
      setWeight.setAttribute("aria-label", `Set weight of ${nameOf(b2)}`);
      const st = b2.status;
      if (!st) {
        fill(state, h("span", { class: "muted" }, "no data plane"));
        fill(conns, "—");
        return;
      }
      const parts = [badge(st.state)];
      if (st.reason) parts.push(h("span", { class: "reason" }, st.reason));
      if (st.state === "draining" && drainSince !== undefined && drainMs > 0) {
        // The server's deadline when it gives one (a drain begun before
        // this page opened); else the time this page first saw it draining.
        const deadline = st.drain_deadline ? Date.parse(st.drain_deadline) : NaN;
        const elapsed = Number.isNaN(deadline) ? Math.min(now - drainSince, drainMs)
          : Math.max(0, Math.min(drainMs - (deadline - now), drainMs));
        parts.push(h("progress", { max: drainMs, value: elapsed, "aria-label": `Drain of ${nameOf(b2)}` }),
          h("span", { class: "reason" }, `${st.active_connections} open, at most ${Math.ceil((drainMs - elapsed) / 1000)} s left`));
      }
      fill(state, ...parts);
      fill(conns, String(st.active_connections));
      const chart = (cell, key, title) => {
        const values = rates.series(b2.id, key);
        const latest = values.length ? values[values.length - 1] : 0;
        fill(cell, sparkline(values, `${title} of ${nameOf(b2)}`, "per second"),
          h("span", { class: "rate", "data-rate": key }, format(latest)));
      };
      chart(req, "req", "Requests");
      chart(conn, "conn", "Connections");
      chart(err, "err", "Errors");
    },
  };
}

function registerForm(poolId, refresh) {
  const field = (id, text, attrs) => h("div", { class: "field" },
    h("label", { for: id }, text), h("input", { id, name: id, ...attrs }));
  const error = h("p", { class: "error", role: "alert", id: "register-error" });
  const form = h("form", { id: "register-form", novalidate: true },
    h("h2", {}, "Register a backend"),
    h("div", { class: "fields" },
      field("reg-address", "Address", { required: true, spellcheck: "false", autocomplete: "off" }),
      field("reg-port", "Port", { type: "number", min: 1, max: 65535, inputmode: "numeric" }),
      field("reg-weight", "Weight", { type: "number", min: 0, max: 65535, value: 100, inputmode: "numeric" }),
      field("reg-name", "Name", { maxlength: 255, autocomplete: "off" })),
    h("button", { type: "submit" }, "Register"), error);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    error.textContent = "";
    const v = (id) => form.querySelector(`#${id}`).value.trim();
    const spec = { address: v("reg-address") };
    if (v("reg-port")) spec.port = Number(v("reg-port"));
    if (v("reg-weight")) spec.weight = Number(v("reg-weight"));
    if (v("reg-name")) spec.name = v("reg-name");
    act(`Register ${spec.address}${spec.port ? `:${spec.port}` : ""}${spec.name ? ` as "${spec.name}"` : ""} in this pool?`, "Register",
      () => call("POST", `/v1/pools/${seg(poolId)}/backends`, { backends: [spec] }),
      `Registered ${spec.name || spec.address}.`, async () => { form.reset(); await refresh(); }, error);
  });
  return form;
}

/** Asks first, then runs `action`; says how it went in `errorEl` or the page. */
async function act(question, verb, action, done, after, errorEl) {
  if (!(await confirm(question, verb))) return;
  try {
    await action();
    announce(done);
    flash(done);
    await after?.();
  } catch (e) {
    const text = `${verb} failed: ${e.message}${e.field ? ` (${e.field})` : ""}`;
    if (errorEl) errorEl.textContent = text;
    else flash(text, true);
  }
}

function flash(text, bad) {
  const root = $("view");
  root.querySelector(".flash")?.remove();
  root.prepend(h("p", { class: bad ? "flash error" : "flash", role: bad ? "alert" : null }, text));
}

/** The confirmation dialog: resolves true on Confirm, false otherwise. */
function confirm(question, verb) {
  const dialog = $("confirm");
  const ok = $("confirm-ok");
  const cancel = $("confirm-cancel");
  const back = document.activeElement;
  $("confirm-text").textContent = question;
  ok.textContent = verb;
  return new Promise((resolve) => {
    const finish = (answer) => {
      ok.removeEventListener("click", yes);
      cancel.removeEventListener("click", no);
      dialog.removeEventListener("cancel", no);
      if (dialog.open) dialog.close();
      back?.focus?.();
      resolve(answer);
    };
    const yes = () => finish(true);
    const no = (e) => { e?.preventDefault?.(); finish(false); };
    ok.addEventListener("click", yes);
    cancel.addEventListener("click", no);
    dialog.addEventListener("cancel", no);
    dialog.showModal();
    cancel.focus();
  });
}

// --- recent changes ---------------------------------------------------------

function onChange({ event, data }) {
  if (!data || event === "ready") return;
  const list = $("changes");
  const when = new Date().toLocaleTimeString();
  let text;
  if (event === "end") text = `stream ended (${data.reason}); resuming`;
  else if (event === "live_lost") text = data.message;
  else {
    const who = h("span", { "data-subject": String(data.id) },
      session.names.get(data.id) ?? `${data.resource} ${String(data.id).slice(0, 8)}`);
    text = data.state ? [who, ` is ${data.state}${data.reason ? `: ${data.reason}` : ""}`] : [who, ` ${data.action}`];
  }
  list.prepend(h("li", { class: data.state ? `change change-${data.state}` : "change" },
    h("time", {}, when), " ", text));
  while (list.children.length > MAX_CHANGES) list.lastElementChild.remove();
}

start();
