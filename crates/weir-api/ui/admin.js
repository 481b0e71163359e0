// The admin view: projects, inventory (VPCs, subnets, instances) and the
// cluster's nodes, read with the admin token. Read-only: changes to these
// go through the CLI or the API, where they are scripted and reviewed.

import { get } from "./api.js";
import { h, fill, badge } from "./dom.js";

function table(caption, headers, rows) {
  return h("div", { class: "table-wrap" }, h("table", {}, h("caption", {}, caption),
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: headers.length, class: "muted" }, "None.")))));
}

const cells = (values) => values.map((v, i) => (i === 0 ? h("th", { scope: "row" }, v ?? "—") : h("td", {}, v ?? "—")));

export async function adminView(root, crumbs) {
  crumbs(["Admin", "#/admin"]);
  const [projects, vpcs, subnets, instances, nodes] = await Promise.all([
    get("/v1/projects"), get("/v1/vpcs"), get("/v1/subnets"), get("/v1/instances"),
    get("/v1/nodes").catch(() => ({ nodes: [] })),
  ]);
  fill(root,
    h("h1", { tabindex: -1 }, "Admin"),
    table("Projects", ["Name", "ID", "Created"], projects.projects.map((p) =>
      h("tr", {}, cells([p.name || p.id, p.id, p.created_at])))),
    table("Nodes", ["Name", "State", "API address", "Applied revision", "Heartbeat age", "VIPs"], nodes.nodes.map((n) =>
      h("tr", {}, cells([n.name || n.id, badge(n.state), n.api_address, String(n.applied_revision),
        `${n.heartbeat_age_ms} ms`, n.vips.join(", ") || null])))),
    table("VPCs", ["ID", "Project", "CIDR"], vpcs.vpcs.map((v) => h("tr", {}, cells([v.id, v.project_id, v.cidr])))),
    table("Subnets", ["ID", "VPC", "CIDR"], subnets.subnets.map((x) => h("tr", {}, cells([x.id, x.vpc_id, x.cidr])))),
    table("Instances", ["Name", "ID", "Project", "Type", "State", "Address"], instances.instances.map((i) =>
      h("tr", {}, cells([i.name || i.id, i.id, i.project_id, i.type, i.state, i.private_ip])))));
}
