#!/usr/bin/env bash
# bench/run.sh: benchmarks collective-server against ws-peer, a reference
# server on Node.js and ws, with the same load from collective-loadgen.
# ./deploy.sh bench [--full] builds what it needs and calls this script.
#
#   bench/run.sh            small profile: 500 witnesses on each server, a check
#                           that every socket joined and got every tick, and 100
#                           more on the official phoenix client that agree with
#                           them (about 30 s)
#   bench/run.sh --full     every figure BENCHMARKS.md's targets need: --compare,
#                           then --storm, then --hold, into one folder (about 35
#                           minutes)
#   bench/run.sh --compare  18 000, 20 000 and 50 000 witnesses on one process of
#                           each server (about 5 minutes; what --full ran until
#                           2026-12-05)
#   bench/run.sh --hold     100 000 witnesses held for 10 minutes by several
#                           collective-server processes that share the port and
#                           a redis-server, then by ws-peer as a cluster of as
#                           many Node.js processes (about 24 minutes)
#   bench/run.sh --storm    100 000 witnesses join, all drop at once and all
#                           reconnect at once, on several collective-server
#                           processes and on ws-peer as a cluster of as many
#                           Node.js processes (about 6 minutes)
#
# Options:
#   --sizes=LIST            witness counts of --compare, comma-separated
#                           (default 18000,20000,50000)
#   --tick-ms=MS            the servers' tick interval (default 1000, and 5000 in the
#                           hold and storm profiles: the server's own default)
#   --output-dir=DIR        where the results go (default build/bench-results/TIME-PROFILE)
#   --hold-witnesses=N      witnesses of the hold and storm profiles (default 100000)
#   --hold-seconds=S        how long the hold profile keeps them (default 600)
#   --poll-ms=MS            once joined, the load generators read every MS ms, so
#                           a frame costs the server no wakeup of a reader, as with
#                           witnesses on other machines (default 1); 0 makes them
#                           sleep until a frame arrives (BENCHMARKS.md, "Readers that
#                           poll, and ticks on the wall clock")
#
# Environment:
#   COLLECTIVE_BENCH_BUILD_DIR  build folder with server/collective-server and
#                               bench/collective-loadgen (default build/bench)
#   COLLECTIVE_BENCH_PORT       port of collective-server; ws-peer takes the next one
#                               and the hold and storm profiles' redis-server the
#                               one after (default 4710, so 4711 and 4712)
#
# Every server listens on 127.0.0.1 and every load comes from 127.0.0.0/8.
# Each run starts a fresh server with an empty data folder.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${COLLECTIVE_BENCH_BUILD_DIR:-$ROOT/build/bench}"
SERVER_BIN="$BUILD_DIR/server/collective-server"
LOADGEN_BIN="$BUILD_DIR/bench/collective-loadgen"
PEER_DIR="$ROOT/bench/peers/ws-peer"
REFERENCE_DIR="$ROOT/bench/reference"
BASE_PORT="${COLLECTIVE_BENCH_PORT:-4710}"

say() { printf '%s\n' "bench: $*"; }
fail() { printf '%s\n' "bench: $*" >&2; exit 1; }
# processes COUNT KIND: "1 collective-server process", "8 ws-peer processes"
processes() {
    if [ "$1" -eq 1 ]; then
        echo "1 $2 process"
    else
        echo "$1 $2 processes"
    fi
}

profile=small
# One profile per run: two profile flags are an error, not a silent choice.
set_profile() {
    [ "$profile" = small ] || [ "$profile" = "$1" ] \
        || fail "--$profile and --$1 are two profiles; give one (--full runs --compare, --storm and --hold)"
    profile="$1"
}
output_dir=""
TICK_MS=1000
sizes=18000,20000,50000
tick_given=0
hold_witnesses=100000
hold_seconds=600
POLL_MS=1
for argument in "$@"; do
    case "$argument" in
        --full) set_profile full ;;
        --compare) set_profile compare ;;
        --hold) set_profile hold ;;
        --storm) set_profile storm ;;
        --hold-witnesses=*)
            hold_witnesses="${argument#--hold-witnesses=}"
            [[ "$hold_witnesses" =~ ^[0-9]+$ ]] && [ "$hold_witnesses" -ge 1000 ] && [ "$hold_witnesses" -le 250000 ] \
                || fail "invalid --hold-witnesses '$hold_witnesses': expected an integer from 1000 to 250000"
            ;;
        --hold-seconds=*)
            hold_seconds="${argument#--hold-seconds=}"
            [[ "$hold_seconds" =~ ^[0-9]+$ ]] && [ "$hold_seconds" -ge 10 ] && [ "$hold_seconds" -le 3600 ] \
                || fail "invalid --hold-seconds '$hold_seconds': expected an integer from 10 to 3600"
            ;;
        --sizes=*)
            sizes="${argument#--sizes=}"
            [[ "$sizes" =~ ^[0-9]+(,[0-9]+)*$ ]] || fail "invalid --sizes '$sizes': expected numbers such as 18000,50000"
            ;;
        --tick-ms=*)
            tick_given=1
            TICK_MS="${argument#--tick-ms=}"
            [[ "$TICK_MS" =~ ^[0-9]+$ ]] && [ "$TICK_MS" -ge 100 ] && [ "$TICK_MS" -le 600000 ] \
                || fail "invalid --tick-ms '$TICK_MS': expected an integer from 100 to 600000"
            ;;
        --poll-ms=*)
            POLL_MS="${argument#--poll-ms=}"
            [[ "$POLL_MS" =~ ^[0-9]+$ ]] && [ "$POLL_MS" -le 100 ] \
                || fail "invalid --poll-ms '$POLL_MS': expected an integer from 0 to 100"
            ;;
        --output-dir=*) output_dir="${argument#--output-dir=}" ;;
        -h | --help)
            sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
            exit 0
            ;;
        *) fail "unknown option '$argument'; see bench/run.sh --help" ;;
    esac
done

# The hold and storm profiles keep the server's own default tick unless
# --tick-ms is given: what 100 000 witnesses cost as deployed.
compare_tick_ms="$TICK_MS"
hold_tick_ms="$TICK_MS"
[ "$tick_given" -eq 1 ] || hold_tick_ms=5000

[ -x "$SERVER_BIN" ] || fail "missing $SERVER_BIN; build it first (./deploy.sh bench builds it)"
[ -x "$LOADGEN_BIN" ] || fail "missing $LOADGEN_BIN; configure with -DCOLLECTIVE_BUILD_BENCH=ON and build"
command -v node >/dev/null || fail "node is missing; the driver and ws-peer run on Node.js (apt-get install nodejs)"
command -v curl >/dev/null || fail "curl is missing; it waits for each server to be ready (apt-get install curl)"

if [ ! -d "$PEER_DIR/node_modules/ws" ]; then
    say "installing ws-peer's dependencies (npm ci)"
    (cd "$PEER_DIR" && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci failed in bench/peers/ws-peer"
fi
if [ "$profile" = small ] && [ ! -d "$REFERENCE_DIR/node_modules/phoenix" ]; then
    say "installing the phoenix reference witnesses' dependencies (npm ci)"
    (cd "$REFERENCE_DIR" && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci failed in bench/reference"
fi

# Each server and each load generator opens one descriptor per socket.
ulimit -n "$(ulimit -Hn)" || true
file_limit="$(ulimit -n)"

[ -n "$output_dir" ] || output_dir="$ROOT/build/bench-results/$(date -u +%Y%m%dT%H%M%SZ)-$profile"
mkdir -p "$output_dir"
work_dir="$(mktemp -d "${TMPDIR:-/tmp}/collective-bench.XXXXXX")"
server_pid=""

hold_pids=()
redis_pid=""
peer_pid=""
peer_workers=""

cleanup() {
    local pid
    for pid in "$server_pid" "${hold_pids[@]}" "$peer_pid" "$redis_pid"; do
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    rm -rf "$work_dir"
}
trap cleanup EXIT

# Fails when something already responds on `port`, because the readiness
# checks would take it for the server under test.
require_free_port() {
    local port="$1"
    if curl -s -m 2 -o /dev/null "http://127.0.0.1:$port/"; then
        fail "port $port is already in use; stop what listens there or set COLLECTIVE_BENCH_PORT"
    fi
}

# Starts one server in the background and sets server_pid and server_port.
start_server() {
    local kind="$1" log="$2"
    require_free_port "$([ "$kind" = collective ] && echo "$BASE_PORT" || echo $((BASE_PORT + 1)))"
    if [ "$kind" = collective ]; then
        server_port="$BASE_PORT"
        rm -rf "$work_dir/data"
        mkdir -p "$work_dir/data"
        # The per-address limits are raised so the load, which comes from a
        # few dozen loopback addresses, is not turned away with 429.
        env -u REDIS_URL COLLECTIVE_ENV=dev PORT="$server_port" COLLECTIVE_BIND=127.0.0.1 \
            COLLECTIVE_DATA_DIR="$work_dir/data" COLLECTIVE_TICK_INTERVAL_MS="$TICK_MS" \
            COLLECTIVE_MAX_CONNECTIONS_PER_ADDRESS=100000 COLLECTIVE_MAX_NEW_CONNECTIONS_PER_MINUTE=100000 \
            COLLECTIVE_DRAIN_WINDOW_MS=0 \
            "$SERVER_BIN" >"$log" 2>&1 &
    else
        server_port=$((BASE_PORT + 1))
        PORT="$server_port" COLLECTIVE_BIND=127.0.0.1 COLLECTIVE_TICK_INTERVAL_MS="$TICK_MS" \
            COLLECTIVE_MILESTONES="$ROOT/shared/milestones.json" \
            node "$PEER_DIR/server.mjs" >"$log" 2>&1 &
    fi
    server_pid=$!

    local attempt
    for attempt in $(seq 1 100); do
        if curl -fs -m 2 -o /dev/null "http://127.0.0.1:$server_port/health/ready"; then
            return 0
        fi
        kill -0 "$server_pid" 2>/dev/null || fail "$kind exited at start; its log: $log"
        sleep 0.1
    done
    fail "$kind was not ready within 10 s on port $server_port; its log: $log"
}

stop_server() {
    kill -TERM "$server_pid" 2>/dev/null || true
    local attempt
    for attempt in $(seq 1 150); do
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$server_pid" 2>/dev/null; then
        say "the server did not stop within 15 s of SIGTERM; killing it"
        kill -KILL "$server_pid" 2>/dev/null || true
    fi
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}

# run_case KIND SOCKETS PROCS SOURCES JOIN_TIMEOUT SETTLE WINDOW [--check]
run_case() {
    local kind="$1" sockets="$2" procs="$3" sources="$4" join_timeout="$5" settle="$6" window="$7"
    shift 7
    local name="$kind-$sockets"
    say "$name: $sockets witnesses from $procs processes, $window s window"
    start_server "$kind" "$output_dir/$name.server.log"
    local status=0
    node "$ROOT/bench/drive.mjs" --loadgen="$LOADGEN_BIN" --port="$server_port" --server-pid="$server_pid" \
        --label="$kind" --sockets="$sockets" --procs="$procs" --sources="$sources" \
        --join-timeout="$join_timeout" --settle="$settle" --window="$window" --tick-ms="$TICK_MS" --poll-ms="$POLL_MS" \
        --output="$output_dir/$name.json" "$@" || status=$?
    stop_server
    return "$status"
}

say "profile $profile; open-file limit $file_limit per process; results in $output_dir"
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "profile: $profile"
    echo "tick: $compare_tick_ms ms with one server process, $hold_tick_ms ms with several"
    echo "load generators read: $([ "$POLL_MS" -gt 0 ] && echo "every $POLL_MS ms once joined" || echo "when woken by a frame")"
    echo "nproc: $(nproc)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
    echo "memory: $(grep MemTotal /proc/meminfo | awk '{print $2 " kB"}')"
    echo "kernel: $(uname -r)"
    echo "open-file limit: $file_limit"
    echo "node: $(node --version)"
    echo "qt: $(dpkg-query -W -f='${Version}' libqt6websockets6 2>/dev/null || echo unknown)"
} >"$output_dir/machine.txt"

# Starts redis-server and `processes` collective-server processes sharing
# BASE_PORT, and waits until they respond. Sets redis_pid, redis_port and hold_pids.
start_collective_group() {
    local processes="$1" log_prefix="$2"
    require_free_port "$BASE_PORT"
    command -v redis-server >/dev/null || fail "redis-server is missing; several processes share their counts through it (apt-get install redis-server)"
    redis_port=$((BASE_PORT + 2))
    redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work_dir" \
        >"$output_dir/$log_prefix.redis.log" 2>&1 &
    redis_pid=$!
    local attempt
    for attempt in $(seq 1 100); do
        redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
        sleep 0.1
    done

    local index
    for index in $(seq 1 "$processes"); do
        rm -rf "$work_dir/data-$index"
        mkdir -p "$work_dir/data-$index"
        env COLLECTIVE_ENV=dev PORT="$BASE_PORT" COLLECTIVE_BIND=127.0.0.1 COLLECTIVE_SHARE_PORT=1 \
            COLLECTIVE_THREADS=1 REDIS_URL="redis://127.0.0.1:$redis_port" \
            COLLECTIVE_DATA_DIR="$work_dir/data-$index" COLLECTIVE_TICK_INTERVAL_MS="$TICK_MS" \
            COLLECTIVE_MAX_CONNECTIONS_PER_ADDRESS=100000 COLLECTIVE_MAX_NEW_CONNECTIONS_PER_MINUTE=1000000 \
            COLLECTIVE_PRESENCE_INTERVAL_MS="$TICK_MS" COLLECTIVE_HANDSHAKE_TIMEOUT_MS=60000 \
            COLLECTIVE_DRAIN_WINDOW_MS=0 \
            "$SERVER_BIN" >"$output_dir/$log_prefix.server-$index.log" 2>&1 &
        hold_pids+=("$!")
    done
    for attempt in $(seq 1 100); do
        curl -fs -m 2 -o /dev/null "http://127.0.0.1:$BASE_PORT/health/ready" && break
        sleep 0.1
    done
    sleep 1
}

# Stops the processes of start_collective_group.
stop_collective_group() {
    local pid
    for pid in "${hold_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${hold_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    hold_pids=()
    kill -TERM "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
    redis_pid=""
}

# Starts ws-peer as a Node.js cluster of `processes` workers on BASE_PORT
# (workers.mjs), since one Node.js process cannot hold more than the
# open-file limit either, and waits until it responds. Sets peer_pid and
# peer_workers, the workers' process ids separated by commas.
start_peer_group() {
    local processes="$1" log="$output_dir/$2.ws-peer.log"
    require_free_port "$BASE_PORT"
    env WS_PEER_WORKERS="$processes" PORT="$BASE_PORT" COLLECTIVE_BIND=127.0.0.1 \
        COLLECTIVE_TICK_INTERVAL_MS="$TICK_MS" COLLECTIVE_PRESENCE_INTERVAL_MS="$TICK_MS" \
        node "$PEER_DIR/workers.mjs" >"$log" 2>&1 &
    peer_pid=$!
    local attempt
    for attempt in $(seq 1 100); do
        grep -q '^ws-peer: workers ' "$log" \
            && curl -fs -m 2 -o /dev/null "http://127.0.0.1:$BASE_PORT/health/ready" && break
        sleep 0.1
    done
    sleep 1
    peer_workers="$(sed -n 's/^ws-peer: workers //p' "$log" | head -n 1)"
    [ -n "$peer_workers" ] || fail "ws-peer's workers did not start; see $log"
}

# Stops the cluster of start_peer_group.
stop_peer_group() {
    kill -TERM "$peer_pid" 2>/dev/null || true
    wait "$peer_pid" 2>/dev/null || true
    peer_pid=""
}

# The hold profile: one process takes about 19 000 witnesses under this
# machine's 20 000 open files, so several processes share the port
# (COLLECTIVE_SHARE_PORT=1, the kernel spreads connections over them) and
# join their counts through one redis-server. Each process has one socket
# thread, 14 000 witnesses or fewer, and its own Chronos. Their ticks fall
# on the same wall-clock boundaries, so one tick reaches all 100 000 in one
# burst. drive.mjs groups receipts by time, because each process numbers its
# own ticks. ws-peer then takes the same load as a cluster of as many
# workers, whose ticks fall on the same boundaries (each with its own
# counts), so the 100 000-witness figures are ratios too.
#
# Presence goes out at most once per tick and a handshake may take a minute:
# with the default 250 ms, every process also broadcast every other
# process's presence while 100 000 joined, and on 2 shared cores that
# starved the handshakes (measured: 62 000 of 100 000 joined, at 207 a
# second). On separate machines each node pays only for its own witnesses.
run_hold() {
    local processes=$(((hold_witnesses + 13999) / 14000))
    local status=0 pids

    say "hold: $hold_witnesses witnesses on $(processes "$processes" collective-server) sharing port $BASE_PORT, held $hold_seconds s"
    start_collective_group "$processes" hold
    pids="$(IFS=,; printf '%s' "${hold_pids[*]}")"
    hold_load collective "$pids" || status=1
    # The peak the processes reached together through Redis, then a graceful
    # stop. (The concurrent count is read after the load generators left.)
    redis-cli -p "$redis_port" mget global:concurrent_connections global:peak_connections \
        >"$output_dir/hold.redis-state.txt" 2>&1 || true
    stop_collective_group

    say "hold: $hold_witnesses witnesses on $(processes "$processes" ws-peer) sharing port $BASE_PORT, held $hold_seconds s"
    start_peer_group "$processes" hold
    hold_load ws-peer "$peer_workers" || status=1
    stop_peer_group
    return "$status"
}

# hold_load KIND PIDS: the hold profile's load on the processes PIDS.
hold_load() {
    local kind="$1" pids="$2"
    local last_source=$((1 + (hold_witnesses + 999) / 1000))
    node "$ROOT/bench/drive.mjs" --loadgen="$LOADGEN_BIN" --port="$BASE_PORT" --server-pid="$pids" \
        --label="$kind-hold" --sockets="$hold_witnesses" --procs="$(((hold_witnesses + 14999) / 15000))" \
        --sources="127.0.0.2-127.0.0.$last_source" --join-timeout=300 --settle=5 --window="$hold_seconds" \
        --tick-ms="$TICK_MS" --poll-ms="$POLL_MS" --output="$output_dir/$kind-hold-$hold_witnesses.json"
}

# The storm profile: hold_witnesses witnesses join (the first wave), then
# every load generator exits, which drops them all at once, and a second
# wave of as many starts right away, while the servers still process the
# closes. The second wave is the reconnect storm: its join rate, and whether
# any handshake was refused or timed out. Both servers run as several
# processes on one port: collective-server as in the hold profile, ws-peer
# as a Node.js cluster of as many workers (workers.mjs), since one Node.js
# process cannot hold more than the open-file limit either.
run_storm_waves() {
    local kind="$1" pids="$2"
    local last_source=$((1 + (hold_witnesses + 999) / 1000))
    local wave status=0
    for wave in first storm; do
        node "$ROOT/bench/drive.mjs" --loadgen="$LOADGEN_BIN" --port="$BASE_PORT" --server-pid="$pids" \
            --label="$kind-$wave" --sockets="$hold_witnesses" --procs="$(((hold_witnesses + 14999) / 15000))" \
            --sources="127.0.0.2-127.0.0.$last_source" --join-timeout=300 --settle=2 --window=10 \
            --tick-ms="$TICK_MS" --poll-ms="$POLL_MS" --output="$output_dir/storm-$kind-$wave-$hold_witnesses.json" || status=1
    done
    return "$status"
}

run_storm() {
    local processes=$(((hold_witnesses + 13999) / 14000))
    local status=0 pids

    say "storm: $hold_witnesses witnesses, twice, on $(processes "$processes" collective-server) sharing port $BASE_PORT"
    start_collective_group "$processes" storm
    pids="$(IFS=,; printf '%s' "${hold_pids[*]}")"
    run_storm_waves collective "$pids" || status=1
    stop_collective_group

    say "storm: $hold_witnesses witnesses, twice, on $(processes "$processes" ws-peer) sharing port $BASE_PORT"
    start_peer_group "$processes" storm
    run_storm_waves ws-peer "$peer_workers" || status=1
    stop_peer_group

    # The waves' windows (10 s) hold no measurable tick at the 5 s tick, and
    # the storm wave's memory starts from what the first wave left.
    say "storm: the tick columns stay empty by design, and a storm row's RSS per witness is not a cost per witness"
    return "$status"
}

# The single-process comparison. Where one process may hold 20 000 open
# files, as on the machine these figures were first taken on, 20 000 and
# 50 000 show where one server process stops, and 18 000 fits under that
# limit. Each load generator takes at most 15 000 sockets, and each source
# address 1000.
run_compare() {
    local size procs last_source status=0
    for size in ${sizes//,/ }; do
        procs=$(((size + 14999) / 15000))
        [ "$procs" -ge 4 ] || procs=4
        last_source=$((1 + (size + 999) / 1000))
        [ "$last_source" -le 255 ] || fail "--sizes: $size witnesses need more than 254 source addresses in 127.0.0.0/24"
        run_case collective "$size" "$procs" "127.0.0.2-127.0.0.$last_source" 60 5 30 || status=1
        run_case ws-peer "$size" "$procs" "127.0.0.2-127.0.0.$last_source" 60 5 30 || status=1
    done
    return "$status"
}

failed=0
case "$profile" in
    small)
        # 100 more witnesses on the official phoenix client check the load
        # generators' figures: same ticks, at about the same time, all counted.
        TICK_MS="$compare_tick_ms"
        run_case collective 500 2 127.0.0.2-127.0.0.5 30 2 10 --check --reference=100 || failed=1
        run_case ws-peer 500 2 127.0.0.2-127.0.0.5 30 2 10 --check --reference=100 || failed=1
        ;;
    compare)
        TICK_MS="$compare_tick_ms"
        run_compare || failed=1
        ;;
    storm)
        TICK_MS="$hold_tick_ms"
        run_storm || failed=1
        ;;
    hold)
        TICK_MS="$hold_tick_ms"
        run_hold || failed=1
        ;;
    full)
        TICK_MS="$compare_tick_ms"
        run_compare || failed=1
        TICK_MS="$hold_tick_ms"
        run_storm || failed=1
        run_hold || failed=1
        ;;
esac

node "$ROOT/bench/report.mjs" "$output_dir" >"$output_dir/summary.md"
cat "$output_dir/summary.md"
say "results in $output_dir"
if [ "$failed" -ne 0 ]; then
    fail "a run failed or its check did not pass; see the lines above"
fi
