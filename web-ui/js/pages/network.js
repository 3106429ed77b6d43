// Network status: this node's id and addresses, partners and their connections, sync counters.
import { api } from "../api.js";
import { h, add, set, title, table, empty, when, statusBadge, ago, stacked } from "../ui.js";

export async function render(view) {
  const [node, partners, metrics] = await Promise.all([
    api("/node"),
    api("/partners?limit=1000"),
    fetch("/metrics", { credentials: "same-origin" }).then((r) => (r.ok ? r.text() : "")).catch(() => ""),
  ]);
  const active = partners.items.filter((p) => p.status === "active");
  const connected = active.filter((p) => p.connected);
  const counters = metrics
    .split("\n")
    .filter((l) => /^cosell_(sync|changes|deals|peers|partners|net)/.test(l))
    .map((l) => l.split(" "));
  add(view, 
    title("Network"),
    h(
      "section",
      { class: "card", "aria-labelledby": "h-node" },
      h("h2", { id: "h-node" }, "This node"),
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "Name"), h("dd", {}, node.name),
        h("dt", {}, "Node id"), h("dd", {}, h("code", { id: "node-id" }, node.id)),
        h("dt", {}, "Version"), h("dd", {}, node.version),
        h("dt", {}, "Web address"), h("dd", {}, node.http),
        h("dt", {}, "Peer-to-peer addresses"), h("dd", {}, node.p2p.length ? h("ul", { class: "plain" }, node.p2p.map((a) => h("li", {}, h("code", {}, a)))) : "none"),
        h("dt", {}, "Partners connected"), h("dd", { id: "connected-count" }, `${connected.length} of ${active.length}`),
      ),
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "h-peers" },
      h("h2", { id: "h-peers" }, "Partners"),
      partners.items.length
        ? table(
            ["Partner", "Status", "Connection", "Last seen", "Addresses"],
            partners.items.map((p) => h("tr", {}, h("td", {}, p.name), h("td", {}, statusBadge(p.status)), h("td", {}, p.connected ? h("span", { class: "badge ok" }, "connected") : h("span", { class: "badge" }, "offline")), h("td", {}, p.connected ? "now" : ago(p.last_seen)), h("td", {}, (p.addrs || []).map((a) => h("code", { class: "addr" }, a))))),
          )
        : empty("No partners yet."),
    ),
    counters.length
      ? h("section", { class: "card", "aria-labelledby": "h-sync" }, h("h2", { id: "h-sync" }, "Sync counters"), table(["Counter", "Value"], counters.map(([k, v]) => h("tr", {}, h("td", {}, h("code", {}, k)), h("td", { class: "num" }, v)))))
      : null,
  );
  return {};
}
