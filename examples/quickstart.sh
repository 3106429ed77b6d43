#!/usr/bin/env bash
# Starts one cosell node in a temporary directory with the sample Salesforce and HubSpot exports
# imported, prints its web address and admin token, and stops it (and removes the directory) on
# Ctrl-C. Pass a directory as $1 to keep the data.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p cosell-node
B=target/release/cosell
DATA=${1:-$(mktemp -d)}
[ -f "$DATA/cosell.toml" ] || $B init --name "Acme Cloud (sample)" --data "$DATA" >/dev/null
$B serve --data "$DATA" --http 127.0.0.1:0 --p2p /ip4/127.0.0.1/tcp/0 & PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; [ -n "${1:-}" ] || rm -rf "$DATA"' EXIT
for _ in $(seq 100); do [ -f "$DATA/node.json" ] && break; sleep 0.1; done
for kind in accounts opportunities; do
  for f in examples/salesforce-$kind.csv; do $B import $kind "$f" --data "$DATA"; done
done
$B import accounts examples/hubspot-companies.csv --data "$DATA"
$B import opportunities examples/hubspot-deals.csv --data "$DATA"
URL=$(sed -n 's/.*"http": *"\([^"]*\)".*/\1/p' "$DATA/node.json")
echo
echo "cosell node running: $URL  (data: $DATA)"
echo "admin token: $(cat "$DATA/admin.token")"
echo "try: curl -H \"Authorization: Bearer \$(cat $DATA/admin.token)\" $URL/api/v1/opportunities"
echo "Ctrl-C stops it."
wait $PID
