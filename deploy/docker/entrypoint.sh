#!/bin/sh
# cosell container entrypoint: initializes an empty data volume from COSELL_NAME, then runs
# `cosell serve` as the main process (exec: it receives the stop signal from tini directly).
#
# Optional first-start wiring (the compose demo): COSELL_WIRE_DIR is a directory shared with
# partner containers, COSELL_WIRE_NAME this node's short name there;
#   COSELL_WIRE_INVITE="reseller:reseller si:si"  invite each PEER with TYPE, leave the invite in
#                                                 $COSELL_WIRE_DIR/<me>-to-<peer>.invite
#   COSELL_WIRE_JOIN="vendor:vendor"              wait for <peer>-to-<me>.invite and join it,
#                                                 seeing the peer as TYPE
# Each happens once per data volume (a marker file in the volume remembers it).
set -eu

data="${COSELL_DATA:-/data}"

if [ "${1:-serve}" != "serve" ]; then
    # Any other command (`health`, `backup`, `partner list`…) runs as given.
    exec cosell "$@"
fi

if [ ! -e "$data/cosell.toml" ]; then
    if [ -z "${COSELL_NAME:-}" ]; then
        echo "cosell-entrypoint: $data holds no node: set COSELL_NAME (the company's name) to create one" >&2
        exit 64
    fi
    cosell init --name "$COSELL_NAME" >/dev/null
fi

wire() {
    me="${COSELL_WIRE_NAME:?COSELL_WIRE_NAME is needed with COSELL_WIRE_DIR}"
    # Ready first: the CLI goes through the node's API.
    tries=0
    until cosell health >/dev/null 2>&1; do
        tries=$((tries + 1))
        [ "$tries" -lt 120 ] || { echo "cosell-entrypoint: the node did not become ready" >&2; return 1; }
        sleep 1
    done
    for pair in ${COSELL_WIRE_INVITE:-}; do
        peer="${pair%%:*}"; type="${pair#*:}"
        marker="$data/.wired-invite-$peer"
        [ -e "$marker" ] && continue
        token="$(cosell partner invite --type "$type")"
        printf '%s\n' "$token" > "$COSELL_WIRE_DIR/$me-to-$peer.invite.tmp"
        mv "$COSELL_WIRE_DIR/$me-to-$peer.invite.tmp" "$COSELL_WIRE_DIR/$me-to-$peer.invite"
        : > "$marker"
        echo "cosell-entrypoint: invited $peer as $type" >&2
    done
    for pair in ${COSELL_WIRE_JOIN:-}; do
        peer="${pair%%:*}"; type="${pair#*:}"
        marker="$data/.wired-join-$peer"
        [ -e "$marker" ] && continue
        invite="$COSELL_WIRE_DIR/$peer-to-$me.invite"
        tries=0
        until [ -s "$invite" ]; do
            tries=$((tries + 1))
            [ "$tries" -lt 300 ] || { echo "cosell-entrypoint: no invite from $peer" >&2; return 1; }
            sleep 1
        done
        tries=0
        until cosell partner join "$(cat "$invite")" --type "$type" >&2; do
            tries=$((tries + 1))
            [ "$tries" -lt 30 ] || { echo "cosell-entrypoint: cannot join $peer" >&2; return 1; }
            sleep 2
        done
        rm -f "$invite"
        : > "$marker"
        echo "cosell-entrypoint: joined $peer as its partner ($type)" >&2
    done
}

if [ -n "${COSELL_WIRE_DIR:-}" ]; then
    wire &
fi
exec cosell serve
