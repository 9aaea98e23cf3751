#!/usr/bin/env bash
# Forms a Redis Cluster from fresh cluster-enabled nodes, once: one master per
# two nodes, each with one replica (redis-cli --cluster create
# --cluster-replicas 1). packaging/docker-compose.yml runs it as the one-shot
# service redis-cluster-init, and deploy/topology.sh runs it on loopback.
#
#   cluster-init.sh HOST:PORT HOST:PORT HOST:PORT HOST:PORT HOST:PORT HOST:PORT [...]
#
# At least six nodes, an even number. It is safe to run again:
#   - when every node is empty (its CLUSTER INFO lists no other node and no
#     assigned slot),
#     it creates the cluster and waits until every node reports
#     cluster_state:ok;
#   - when every node already reports cluster_state:ok, it changes nothing;
#   - otherwise a cluster exists but is not ok, for example while its nodes
#     restart from their nodes.conf. It then introduces every node to every
#     other at its current address (see reintroduce_nodes) and waits for
#     cluster_state:ok, without creating anything.
# It exits 1 with a message when a node does not answer or the cluster does
# not reach cluster_state:ok within CLUSTER_INIT_TIMEOUT_S.
#
# Environment:
#   REDIS_CLI               redis-cli to use (default: redis-cli from PATH)
#   CLUSTER_INIT_TIMEOUT_S  seconds to wait for the nodes and the cluster (default 60)
set -euo pipefail

REDIS_CLI="${REDIS_CLI:-redis-cli}"
TIMEOUT_S="${CLUSTER_INIT_TIMEOUT_S:-60}"

say() { printf '%s\n' "cluster-init: $*"; }
fail() { printf '%s\n' "cluster-init: $*" >&2; exit 1; }

# Runs redis-cli against node $1 (HOST:PORT) with the remaining arguments.
# A node that hangs is given up after 5 s.
node_cli() {
    local node="$1"
    shift
    timeout 5 "$REDIS_CLI" -h "${node%:*}" -p "${node##*:}" "$@"
}

# Prints the value of field $2 of CLUSTER INFO from node $1, or nothing when
# the node does not respond.
cluster_info_field() {
    node_cli "$1" cluster info 2>/dev/null | tr -d '\r' | sed -n "s/^$2://p"
}

# Prints HOST:PORT with the host resolved to an IPv4 address.
# CLUSTER MEET, which --cluster create sends, accepts addresses only.
resolved_node() {
    local host="${1%:*}" port="${1##*:}" address
    address="$(getent ahostsv4 "$host" | awk 'NR == 1 { print $1 }')"
    [ -n "$address" ] || fail "cannot resolve the host name $host"
    printf '%s:%s' "$address" "$port"
}

# Sends CLUSTER MEET from every node to every other node's current address.
# A restarted container can get another address than the one its peers keep
# in their nodes.conf, and then no peer can reach it. When a MEET handshake reaches
# a node id the receiver already knows under another address, Redis updates
# that address (clusterProcessPacket in Redis's cluster.c); a handshake
# with an unchanged address changes nothing.
reintroduce_nodes() {
    local node other address
    for other in "${NODES[@]}"; do
        address="$(resolved_node "$other")"
        for node in "${NODES[@]}"; do
            [ "$node" != "$other" ] || continue
            node_cli "$node" cluster meet "${address%:*}" "${address##*:}" >/dev/null \
                || say "$node could not be asked to meet $other at $address; waiting anyway" >&2
        done
    done
}

# Succeeds when every node reports cluster_state:ok.
all_nodes_ok() {
    local node
    for node in "${NODES[@]}"; do
        [ "$(cluster_info_field "$node" cluster_state)" = ok ] || return 1
    done
}

# Waits until every node reports cluster_state:ok, or fails after TIMEOUT_S.
wait_for_cluster_ok() {
    local deadline=$((SECONDS + TIMEOUT_S)) node
    until all_nodes_ok; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            for node in "${NODES[@]}"; do
                say "$node: cluster_state:$(cluster_info_field "$node" cluster_state)" >&2
            done
            fail "the cluster did not reach cluster_state:ok within $TIMEOUT_S s"
        fi
        sleep 0.5
    done
}

NODES=("$@")
if [ "${#NODES[@]}" -lt 6 ] || [ $((${#NODES[@]} % 2)) -ne 0 ]; then
    fail "expected at least six HOST:PORT nodes, an even number (three masters with one replica each); got ${#NODES[@]}"
fi
for node in "${NODES[@]}"; do
    [[ "$node" =~ ^[^:]+:[0-9]+$ ]] || fail "invalid node '$node': expected HOST:PORT"
done
command -v "$REDIS_CLI" >/dev/null || fail "redis-cli not found ($REDIS_CLI): install Debian's redis-tools or set REDIS_CLI"

# Every node must respond before the cluster's state can be judged.
deadline=$((SECONDS + TIMEOUT_S))
for node in "${NODES[@]}"; do
    until [ "$(node_cli "$node" ping 2>/dev/null)" = PONG ]; do
        [ "$SECONDS" -lt "$deadline" ] || fail "$node did not answer PING within $TIMEOUT_S s"
        sleep 0.5
    done
    [ -n "$(cluster_info_field "$node" cluster_state)" ] \
        || fail "$node is not in cluster mode: start it with --cluster-enabled yes"
done

if all_nodes_ok; then
    say "the cluster of ${#NODES[@]} nodes is already formed (cluster_state:ok)"
    exit 0
fi

empty_nodes=0
for node in "${NODES[@]}"; do
    if [ "$(cluster_info_field "$node" cluster_known_nodes)" = 1 ] \
        && [ "$(cluster_info_field "$node" cluster_slots_assigned)" = 0 ]; then
        empty_nodes=$((empty_nodes + 1))
    fi
done

if [ "$empty_nodes" -eq "${#NODES[@]}" ]; then
    addresses=()
    for node in "${NODES[@]}"; do
        addresses+=("$(resolved_node "$node")")
    done
    say "creating a cluster of ${#NODES[@]} nodes: ${addresses[*]}"
    "$REDIS_CLI" --cluster create "${addresses[@]}" --cluster-replicas 1 --cluster-yes \
        || fail "redis-cli --cluster create failed; see its output above"
elif [ "$empty_nodes" -gt 0 ]; then
    # Some nodes lost their nodes.conf (a deleted volume) while the others
    # still form a cluster. Adding them back is an operator's decision.
    fail "$empty_nodes of ${#NODES[@]} nodes are empty while the others already form a cluster: add them with redis-cli --cluster add-node, or delete every node's data to start again"
else
    say "the cluster exists but is not ok yet; introducing the nodes at their current addresses"
    reintroduce_nodes
fi

wait_for_cluster_ok
say "the cluster of ${#NODES[@]} nodes is ready (cluster_state:ok)"
