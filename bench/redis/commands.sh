#!/usr/bin/env bash
# bench/redis/commands.sh: Redis commands per second while witnesses join,
# to show that the Redis store's traffic follows ticks and nodes, not joins.
#
#   bench/redis/commands.sh [NODES] [WITNESSES]     (defaults 1 and 10000)
#
# Starts redis-server and NODES collective-server processes on loopback
# (tick 1000 ms), then counts the commands Redis processed in three 10 s
# windows: idle, while WITNESSES join spread over the nodes, and idle with
# them joined. Prints one JSON object. Needs build/bench (see bench/run.sh).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD_DIR="${COLLECTIVE_BENCH_BUILD_DIR:-$ROOT/build/bench}"
NODES="${1:-1}"
WITNESSES="${2:-10000}"
REDIS_PORT=6811
BASE_PORT=4811
WORK="$(mktemp -d)"
PIDS=()

cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

commands() { redis-cli -p "$REDIS_PORT" INFO stats | awk -F: '/^total_commands_processed/ {print $2+0}'; }

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK" >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
until redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; do sleep 0.1; done

for ((node = 0; node < NODES; node++)); do
    mkdir -p "$WORK/node$node"
    PORT=$((BASE_PORT + node)) COLLECTIVE_BIND=127.0.0.1 COLLECTIVE_DATA_DIR="$WORK/node$node" \
        REDIS_URL="redis://127.0.0.1:$REDIS_PORT" COLLECTIVE_TICK_INTERVAL_MS=1000 \
        COLLECTIVE_MAX_CONNECTIONS_PER_ADDRESS=100000 COLLECTIVE_MAX_NEW_CONNECTIONS_PER_MINUTE=100000 \
        "$BUILD_DIR/server/collective-server" >"$WORK/node$node.log" 2>&1 &
    PIDS+=($!)
done
for ((node = 0; node < NODES; node++)); do
    until curl -fsS -o /dev/null "http://127.0.0.1:$((BASE_PORT + node))/health/ready" 2>/dev/null; do sleep 0.1; done
done

window() { local before; before="$(commands)"; sleep 10; echo $(( ($(commands) - before) / 10 )); }

idle_before="$(window)"

joined_before="$(commands)"
join_started="$(date +%s.%N)"
per_node=$(( WITNESSES / NODES ))
for ((node = 0; node < NODES; node++)); do
    "$BUILD_DIR/bench/collective-loadgen" --port=$((BASE_PORT + node)) --sockets="$per_node" \
        --sources=127.0.2.1-127.0.2.8 --max-run=60 --output="$WORK/load$node.json" \
        >"$WORK/load$node.out" 2>&1 &
    PIDS+=($!)
done
# Wait until every node counts its share, then for the rest of 10 s.
for ((node = 0; node < NODES; node++)); do
    until [ "$(curl -fsS "http://127.0.0.1:$((BASE_PORT + node))/metrics/state" | sed -E 's/.*"witnesses":([0-9]+).*/\1/')" \
        -ge "$per_node" ]; do sleep 0.2; done
done
join_seconds="$(echo "$(date +%s.%N) - $join_started" | bc)"
sleep "$(echo "if (10 - $join_seconds > 0) 10 - $join_seconds else 0" | bc)"
window_seconds="$(echo "$(date +%s.%N) - $join_started" | bc)"
during_join="$(echo "($(commands) - $joined_before) / $window_seconds" | bc)"

idle_after="$(window)"
global="$(redis-cli -p "$REDIS_PORT" GET global:concurrent_connections)"

printf '{"nodes":%d,"witnesses":%d,"join_seconds":%.1f,"commands_per_second":{"idle_before":%d,"during_join":%d,"idle_after":%d},"global_concurrent":%s}\n' \
    "$NODES" "$WITNESSES" "$join_seconds" "$idle_before" "$during_join" "$idle_after" "$global"
