// Network status: this node's id and addresses, reachability (NAT status, external and observed
// addresses, relays used and offered), partners and how each is connected (direct,
// hole-punched, relayed) with round-trip time and last error, sync counters.
import { api, BASE } from "../api.js";
import { h, add, set, title, table, empty, when, statusBadge, ago, stacked } from "../ui.js";

export async function render(view) {
  const [node, partners, net, metrics] = await Promise.all([
    api("/node"),
    api("/partners?limit=1000"),
    api("/network").catch(() => null),
    fetch(`${BASE}/metrics`, { credentials: "same-origin" }).then((r) => (r.ok ? r.text() : "")).catch(() => ""),
  ]);
  const active = partners.items.filter((p) => p.status === "active");
  const connected = active.filter((p) => p.connected);
  const links = new Map(((net && net.partners) || []).map((l) => [l.id, l]));
  const codes = (list) => (list && list.length ? h("ul", { class: "plain" }, list.map((a) => h("li", {}, h("code", {}, a)))) : "none");
  const natText = !net ? "unknown" : net.nat === "public" ? `public${net.nat_address ? ` (reachable at ${net.nat_address})` : ""}` : net.nat === "private" ? "private: behind a NAT or firewall, partners reach it through relays" : "unknown: no partner has checked yet";
  const server = net && net.relay_server;
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
    net
      ? h(
          "section",
          { class: "card", "aria-labelledby": "h-reach" },
          h("h2", { id: "h-reach" }, "Reachability"),
          h(
            "dl",
            { class: "facts" },
            h("dt", {}, "NAT status"), h("dd", { id: "nat-status" }, natText),
            h("dt", {}, "External addresses"), h("dd", {}, codes(net.external)),
            h("dt", {}, "Seen by partners at"), h("dd", {}, codes(net.observed)),
            h("dt", {}, "Invites carry"), h("dd", {}, codes(net.advertised)),
            h("dt", {}, "Relays used"), h("dd", { id: "relays-used" }, net.relays.length ? h("ul", { class: "plain" }, net.relays.map((r) => h("li", {}, `${r.state} `, h("code", {}, r.address), r.last_error ? h("span", { class: "hint" }, ` ${r.last_error}`) : null))) : "none"),
            h("dt", {}, "Relaying for partners"), h("dd", {}, server && server.enabled ? `on: ${server.reservations} reservations, ${server.circuits} of ${server.max_circuits} circuits, ${server.denied} refused` : "off"),
          ),
        )
      : null,
    h(
      "section",
      { class: "card", "aria-labelledby": "h-peers" },
      h("h2", { id: "h-peers" }, "Partners"),
      partners.items.length
        ? table(
            ["Partner", "Status", "Connection", "RTT", "Last seen", "Last error", "Addresses"],
            partners.items.map((p) => {
              const link = links.get(p.id) || {};
              const how = p.connected ? h("span", { class: "badge ok", dataset: { connection: p.connection || "direct" } }, `connected (${p.connection || "direct"})`) : h("span", { class: "badge" }, "offline");
              return h("tr", {}, h("td", {}, p.name), h("td", {}, statusBadge(p.status)), h("td", {}, how), h("td", { class: "num" }, link.rtt_ms != null ? `${link.rtt_ms.toFixed(1)} ms` : "—"), h("td", {}, p.connected ? "now" : ago(p.last_seen)), h("td", {}, link.last_error ? h("span", { class: "hint", title: link.last_error_at || "" }, link.last_error) : "—"), h("td", {}, (p.addrs || []).map((a) => h("code", { class: "addr" }, a))));
            }),
          )
        : empty("No partners yet."),
    ),
    counters.length
      ? h("section", { class: "card", "aria-labelledby": "h-sync" }, h("h2", { id: "h-sync" }, "Sync counters"), table(["Counter", "Value"], counters.map(([k, v]) => h("tr", {}, h("td", {}, h("code", {}, k)), h("td", { class: "num" }, v)))))
      : null,
  );
  return {};
}
