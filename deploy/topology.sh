#!/usr/bin/env bash
# Runs The Collective as a production-shaped topology on this machine, without
# Docker: a Redis Cluster of six redis-server processes (three masters, three
# replicas), several collective-server nodes sharing it, and nginx in front
# spreading the witnesses' WebSockets over the nodes. Everything listens on
# 127.0.0.1 only.
#
#   deploy/topology.sh start    start everything, return once /health/ready responds through nginx
#   deploy/topology.sh stop     stop everything this script started
#   deploy/topology.sh status   show what runs; exit 0 when all of it, 3 when none, 1 when part
#
# ./deploy.sh topology:start installs the Debian packages and builds the
# server first. The settings are environment variables:
#   TOPOLOGY_DIR           state, logs and pid files (default var/topology in the checkout)
#   TOPOLOGY_PORT          nginx's port, the one witnesses use (default 4100)
#   TOPOLOGY_NODES         number of collective-server nodes (default 3)
#   TOPOLOGY_NODE_PORT     the first node's port; the others follow it (default 4101)
#   TOPOLOGY_REDIS_PORT    the first of six consecutive Redis ports (default 7101).
#                          Each Redis node also takes its port + 10000 for the cluster bus
#   COLLECTIVE_SERVER_BIN  the server binary (default COLLECTIVE_BUILD_DIR/server/collective-server,
#                          with COLLECTIVE_BUILD_DIR defaulting to build/dev)
#   NGINX_BIN, REDIS_SERVER_BIN, REDIS_CLI_BIN
#                          the programs (default /usr/sbin/nginx, redis-server and redis-cli from PATH)
#
# The nodes inherit the rest of the environment, so PHX_HOST,
# COLLECTIVE_TICK_INTERVAL_MS and the other server settings apply to all of
# them. The script sets PORT, COLLECTIVE_BIND, REDIS_URL (every Redis node as a
# seed), REDIS_CLUSTER=1 and COLLECTIVE_DATA_DIR itself. It also lifts the
# nodes' per-address connection limits, because behind nginx every connection
# comes from nginx's address; nginx applies those limits per client instead
# (packaging/nginx/collective.conf.template).
#
# stop keeps the Redis data, so the next start brings back the same
# Collective. The cluster remembers its nodes' ports in each node's
# nodes.conf: to change TOPOLOGY_REDIS_PORT, or to start from zero, stop and
# delete TOPOLOGY_DIR.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

TOPOLOGY_DIR="${TOPOLOGY_DIR:-$ROOT/var/topology}"
NGINX_PORT="${TOPOLOGY_PORT:-4100}"
NODE_COUNT="${TOPOLOGY_NODES:-3}"
FIRST_NODE_PORT="${TOPOLOGY_NODE_PORT:-4101}"
FIRST_REDIS_PORT="${TOPOLOGY_REDIS_PORT:-7101}"
REDIS_NODE_COUNT=6
# Redis derives each node's cluster bus port from its client port this way.
REDIS_BUS_PORT_OFFSET=10000

SERVER_BIN="${COLLECTIVE_SERVER_BIN:-${COLLECTIVE_BUILD_DIR:-$ROOT/build/dev}/server/collective-server}"
NGINX_BIN="${NGINX_BIN:-/usr/sbin/nginx}"
REDIS_SERVER_BIN="${REDIS_SERVER_BIN:-redis-server}"
REDIS_CLI_BIN="${REDIS_CLI_BIN:-redis-cli}"

NGINX_TEMPLATE="$ROOT/packaging/nginx/collective.conf.template"
CLUSTER_INIT="$ROOT/packaging/redis/cluster-init.sh"
# Written into every upstream server line: one failed connect marks a node
# down for 10 s. The Compose file's COLLECTIVE_UPSTREAM_SERVERS uses the same.
UPSTREAM_SERVER_PARAMETERS="max_fails=1 fail_timeout=10s"
# The largest value the server accepts for both per-address limits.
UNLIMITED_PER_ADDRESS=100000000

RUN_DIR="$TOPOLOGY_DIR/run"
LOG_DIR="$TOPOLOGY_DIR/log"

say() { printf '%s\n' "topology: $*"; }
fail() { printf '%s\n' "topology: $*" >&2; exit 1; }

# Prints a path relative to the checkout when it is inside it.
shown_path() { printf '%s' "${1#"$ROOT"/}"; }

# --- processes ---------------------------------------------------------------

# Prints the start time of process $1 in clock ticks since boot (field 22 of
# /proc/PID/stat). Together with the pid it names one process: a pid that the
# kernel hands to a new process after ours exited has another start time.
# Prints nothing and fails when the process is gone or is a zombie, which
# kill -0 still finds until its parent reaps it.
process_start_time() {
    local stat fields
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    # The command name, field 2, may contain spaces; the fields after it do not.
    read -r -a fields <<<"${stat##*) }"
    [ "${fields[0]}" != Z ] || return 1
    printf '%s' "${fields[19]}"
}

# Starts COMMAND in the background, detached from this shell, with its output
# appended to LOG_FILE, and writes PID_FILE: the pid, then the process's start
# time.
#   start_process PID_FILE LOG_FILE COMMAND [ARGS...]
start_process() {
    local pid_file="$1" log_file="$2"
    shift 2
    nohup "$@" >>"$log_file" 2>&1 </dev/null &
    local pid=$!
    printf '%s\n%s\n' "$pid" "$(process_start_time "$pid" || true)" >"$pid_file"
}

# Prints the pid stored in pid file $1 when that same process still runs.
running_pid() {
    [ -f "$1" ] || return 1
    local pid start_time
    { read -r pid && read -r start_time; } <"$1" || return 1
    [ -n "$pid" ] || return 1
    [ "$(process_start_time "$pid")" = "$start_time" ] || return 1
    printf '%s' "$pid"
}

# Sends SIGTERM to the processes of the pid files "$@" at once, waits up to
# 20 s for all of them, then sends SIGKILL to those left, and removes the pid
# files. Prints one line per process that was running. Returns 1 when none was.
stop_processes() {
    local file pid pids=() names=() tries index any=1
    for file in "$@"; do
        if pid="$(running_pid "$file")"; then
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
            names+=("$(process_name "$file")")
            any=0
        fi
    done
    for index in "${!pids[@]}"; do
        # process_start_time, unlike kill -0, fails for a zombie: a process
        # that exited but that PID 1 has not reaped yet.
        for ((tries = 200; tries > 0; tries--)); do
            process_start_time "${pids[$index]}" >/dev/null || break
            sleep 0.1
        done
        if process_start_time "${pids[$index]}" >/dev/null; then
            say "${names[$index]} did not stop within 20 s; killing it"
            kill -KILL "${pids[$index]}" 2>/dev/null || true
        fi
        say "stopped ${names[$index]} (pid ${pids[$index]})"
    done
    rm -f "$@"
    return "$any"
}

# Prints what the process of pid file $1 is, for messages.
process_name() {
    local name
    name="$(basename "$1" .pid)"
    case "$name" in
        node-*) printf 'the node on port %s' "${name#node-}" ;;
        redis-*) printf 'redis-server on port %s' "${name#redis-}" ;;
        *) printf '%s' "$name" ;;
    esac
}

# Succeeds when something accepts TCP connections on 127.0.0.1:$1.
port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Prints the pid files of the process group $1 (nginx, node or redis).
pid_files_of() {
    local file
    for file in "$RUN_DIR/$1"*.pid; do
        [ -e "$file" ] && printf '%s\n' "$file"
    done
    return 0
}

# Prints the pid files of everything started: nginx, the nodes, then Redis.
all_pid_files() {
    pid_files_of nginx
    pid_files_of node-
    pid_files_of redis-
}

# --- settings ----------------------------------------------------------------

# Fails unless $2 is an integer from $3 to $4; $1 names the variable.
require_integer() {
    local name="$1" value="$2" low="$3" high="$4"
    if ! [[ "$value" =~ ^[0-9]+$ ]] || [ "$value" -lt "$low" ] || [ "$value" -gt "$high" ]; then
        fail "invalid $name '$value': expected an integer from $low to $high"
    fi
}

# Fills the port arrays from the settings, and fails on a bad or repeated port.
plan_ports() {
    require_integer TOPOLOGY_PORT "$NGINX_PORT" 1 65535
    require_integer TOPOLOGY_NODES "$NODE_COUNT" 1 64
    require_integer TOPOLOGY_NODE_PORT "$FIRST_NODE_PORT" 1 $((65535 - NODE_COUNT + 1))
    require_integer TOPOLOGY_REDIS_PORT "$FIRST_REDIS_PORT" 1 $((65535 - REDIS_BUS_PORT_OFFSET - REDIS_NODE_COUNT + 1))

    local i
    NODE_PORTS=()
    for ((i = 0; i < NODE_COUNT; i++)); do
        NODE_PORTS+=($((FIRST_NODE_PORT + i)))
    done
    REDIS_PORTS=()
    REDIS_BUS_PORTS=()
    for ((i = 0; i < REDIS_NODE_COUNT; i++)); do
        REDIS_PORTS+=($((FIRST_REDIS_PORT + i)))
        REDIS_BUS_PORTS+=($((FIRST_REDIS_PORT + i + REDIS_BUS_PORT_OFFSET)))
    done

    local repeated
    repeated="$(printf '%s\n' "$NGINX_PORT" "${NODE_PORTS[@]}" "${REDIS_PORTS[@]}" "${REDIS_BUS_PORTS[@]}" \
        | sort | uniq -d | tr '\n' ' ')"
    [ -z "$repeated" ] || fail "the settings give port(s) ${repeated% } to more than one process: \
TOPOLOGY_PORT=$NGINX_PORT, nodes ${NODE_PORTS[0]}-${NODE_PORTS[-1]}, Redis ${REDIS_PORTS[0]}-${REDIS_PORTS[-1]} \
(bus ${REDIS_BUS_PORTS[0]}-${REDIS_BUS_PORTS[-1]})"
}

# Fails, before anything starts, when a program or file is missing.
require_programs() {
    local program
    for program in "$REDIS_SERVER_BIN" "$REDIS_CLI_BIN" "$NGINX_BIN" curl; do
        command -v "$program" >/dev/null \
            || fail "$program is not installed: ./deploy.sh topology:start installs Debian's redis-server, nginx and curl"
    done
    [ -x "$SERVER_BIN" ] \
        || fail "the server binary $SERVER_BIN is missing: build it with ./deploy.sh dev:start, or set COLLECTIVE_SERVER_BIN"
    [ -f "$NGINX_TEMPLATE" ] || fail "the nginx template $NGINX_TEMPLATE is missing"
    [ -f "$CLUSTER_INIT" ] || fail "the cluster script $CLUSTER_INIT is missing"
}

# Fails, before anything starts, when a port is already in use.
require_free_ports() {
    local port
    port_in_use "$NGINX_PORT" && fail "port $NGINX_PORT (nginx) is already in use: stop what listens there or set TOPOLOGY_PORT"
    for port in "${NODE_PORTS[@]}"; do
        port_in_use "$port" && fail "port $port (a collective-server node) is already in use: stop what listens there or set TOPOLOGY_NODE_PORT"
    done
    for port in "${REDIS_PORTS[@]}"; do
        port_in_use "$port" && fail "port $port (a Redis node) is already in use: stop what listens there or set TOPOLOGY_REDIS_PORT"
    done
    for port in "${REDIS_BUS_PORTS[@]}"; do
        port_in_use "$port" && fail "port $port (a Redis cluster bus, Redis port + $REDIS_BUS_PORT_OFFSET) is already in use: stop what listens there or set TOPOLOGY_REDIS_PORT"
    done
    return 0
}

# --- starting each part --------------------------------------------------------

start_redis_nodes() {
    local port dir
    for port in "${REDIS_PORTS[@]}"; do
        dir="$TOPOLOGY_DIR/redis/$port"
        mkdir -p "$dir"
        # Append-only file synced every second, as in the Compose stack: a
        # crash loses at most a second of writes. nodes.conf, in the same
        # folder, is where the node keeps the cluster's layout.
        start_process "$RUN_DIR/redis-$port.pid" "$LOG_DIR/redis-$port.log" \
            "$REDIS_SERVER_BIN" --bind 127.0.0.1 --port "$port" --dir "$dir" \
            --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 5000 \
            --appendonly yes --appendfsync everysec --daemonize no --logfile ""
    done
    for port in "${REDIS_PORTS[@]}"; do
        wait_until PING 10 "$RUN_DIR/redis-$port.pid" redis_answers "$port"
    done
    say "started 6 Redis nodes on ports ${REDIS_PORTS[0]}-${REDIS_PORTS[-1]}"
}

redis_answers() {
    [ "$("$REDIS_CLI_BIN" -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = PONG ]
}

form_cluster() {
    local nodes=() port
    for port in "${REDIS_PORTS[@]}"; do
        nodes+=("127.0.0.1:$port")
    done
    REDIS_CLI="$REDIS_CLI_BIN" bash "$CLUSTER_INIT" "${nodes[@]}" 2>&1 | tee -a "$LOG_DIR/cluster-init.log" \
        || fail_started "the Redis Cluster did not form; see $(shown_path "$LOG_DIR")/redis-*.log"
}

# Prints REDIS_URL for the nodes: every Redis node as a seed, so a node can
# start while any one of them responds, whichever is a master at that moment.
redis_url() {
    local seeds=() port
    for port in "${REDIS_PORTS[@]}"; do
        seeds+=("redis://127.0.0.1:$port")
    done
    local IFS=,
    printf '%s' "${seeds[*]}"
}

start_server_nodes() {
    local port url
    url="$(redis_url)"
    for port in "${NODE_PORTS[@]}"; do
        mkdir -p "$TOPOLOGY_DIR/nodes/$port"
        start_process "$RUN_DIR/node-$port.pid" "$LOG_DIR/node-$port.log" \
            env PORT="$port" COLLECTIVE_BIND=127.0.0.1 REDIS_URL="$url" REDIS_CLUSTER=1 \
            COLLECTIVE_DATA_DIR="$TOPOLOGY_DIR/nodes/$port" \
            COLLECTIVE_MAX_CONNECTIONS_PER_ADDRESS="$UNLIMITED_PER_ADDRESS" \
            COLLECTIVE_MAX_NEW_CONNECTIONS_PER_MINUTE="$UNLIMITED_PER_ADDRESS" \
            "$SERVER_BIN"
    done
    for port in "${NODE_PORTS[@]}"; do
        wait_until /health/ready 30 "$RUN_DIR/node-$port.pid" \
            http_ok "http://127.0.0.1:$port/health/ready"
    done
    say "started $NODE_COUNT collective-server nodes on ports ${NODE_PORTS[0]}-${NODE_PORTS[-1]}"
}

http_ok() {
    curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null
}

# Writes nginx.conf and collective.conf under $TOPOLOGY_DIR/nginx: the main
# context with every path inside that folder, so nginx touches neither
# /etc/nginx nor /var/log/nginx nor /var/lib/nginx, and the template with its
# placeholders replaced.
write_nginx_config() {
    local dir="$TOPOLOGY_DIR/nginx" servers="" port template
    mkdir -p "$dir"
    for port in "${NODE_PORTS[@]}"; do
        servers+="server 127.0.0.1:$port $UPSTREAM_SERVER_PARAMETERS; "
    done

    # shellcheck disable=SC2016 # the placeholders are literal text
    local listen_placeholder='${COLLECTIVE_LISTEN}' servers_placeholder='${COLLECTIVE_UPSTREAM_SERVERS}' \
        placeholder_start='${COLLECTIVE_'
    template="$(cat "$NGINX_TEMPLATE")"
    template="${template//"$listen_placeholder"/127.0.0.1:$NGINX_PORT}"
    template="${template//"$servers_placeholder"/$servers}"
    case "$template" in
        *"$placeholder_start"*) fail_started "$(shown_path "$NGINX_TEMPLATE") has a placeholder this script does not fill" ;;
    esac
    printf '%s\n' "$template" >"$dir/collective.conf"

    cat >"$dir/nginx.conf" <<EOF
# Written by deploy/topology.sh at each start; edit
# packaging/nginx/collective.conf.template instead.
daemon off;
worker_processes auto;
pid $dir/nginx.pid;
error_log stderr crit;

events {
    worker_connections 4096;
}

http {
    client_body_temp_path $dir/client_body_temp;
    proxy_temp_path $dir/proxy_temp;
    fastcgi_temp_path $dir/fastcgi_temp;
    uwsgi_temp_path $dir/uwsgi_temp;
    scgi_temp_path $dir/scgi_temp;
    include $dir/collective.conf;
}
EOF
}

start_nginx() {
    write_nginx_config
    local dir="$TOPOLOGY_DIR/nginx"
    # -e stderr: without it nginx opens its built-in error log path,
    # /var/log/nginx/error.log, before it reads the configuration.
    "$NGINX_BIN" -t -q -e stderr -p "$dir" -c "$dir/nginx.conf" >>"$LOG_DIR/nginx.log" 2>&1 \
        || { tail -n 20 "$LOG_DIR/nginx.log" >&2; fail_started "nginx rejected $(shown_path "$dir")/nginx.conf; see the lines above"; }
    start_process "$RUN_DIR/nginx.pid" "$LOG_DIR/nginx.log" "$NGINX_BIN" -e stderr -p "$dir" -c "$dir/nginx.conf"
    wait_until "/health/ready (passed on to a node)" 10 "$RUN_DIR/nginx.pid" \
        http_ok "http://127.0.0.1:$NGINX_PORT/health/ready"
    say "started nginx on port $NGINX_PORT in front of the nodes"
}

# Waits up to $2 seconds for "${@:4}" to succeed while the process of pid
# file $3 runs. On failure it prints the end of that process's log, stops
# everything and fails. $1 names the request awaited, for the messages.
wait_until() {
    local what="$1" seconds="$2" pid_file="$3" name log_file tries
    shift 3
    name="$(process_name "$pid_file")"
    log_file="$LOG_DIR/$(basename "$pid_file" .pid).log"
    for ((tries = seconds * 10; tries > 0; tries--)); do
        "$@" && return 0
        if ! running_pid "$pid_file" >/dev/null; then
            tail -n 20 "$log_file" >&2
            fail_started "$name exited before it responded to $what; the last lines of $(shown_path "$log_file") are above"
        fi
        sleep 0.1
    done
    tail -n 20 "$log_file" >&2
    fail_started "timed out after $seconds s waiting for $name to respond to $what; the last lines of $(shown_path "$log_file") are above"
}

# Stops whatever this start started, then fails with message $1.
fail_started() {
    stop_everything >/dev/null 2>&1 || true
    fail "$1. Everything started was stopped again"
}

# --- commands ------------------------------------------------------------------

# Stops every process that has a pid file, in three groups. nginx goes first,
# so no witness arrives at a stopping node. The nodes stop together, because
# each drains its witnesses over COLLECTIVE_DRAIN_WINDOW_MS (5 s by default).
# Redis goes last, so the nodes can store what they owe while they stop.
# Returns 1 when nothing was running.
stop_everything() {
    local group files any=1
    for group in nginx node- redis-; do
        mapfile -t files < <(pid_files_of "$group")
        [ "${#files[@]}" -gt 0 ] || continue
        if stop_processes "${files[@]}"; then
            any=0
        fi
    done
    return "$any"
}

cmd_start() {
    mkdir -p "$RUN_DIR" "$LOG_DIR"
    local file running=0 total=0
    while read -r file; do
        total=$((total + 1))
        running_pid "$file" >/dev/null && running=$((running + 1))
    done < <(all_pid_files)
    if [ "$total" -gt 0 ] && [ "$running" -eq "$total" ]; then
        say "the topology is already running; deploy/topology.sh status shows it"
        return 0
    fi
    [ "$running" -eq 0 ] \
        || fail "the topology is partly running ($running of $total processes): run deploy/topology.sh stop first"
    # Whatever pid files are left belong to processes that are gone.
    rm -f "$RUN_DIR"/*.pid

    plan_ports
    require_programs
    require_free_ports

    say "starting in $(shown_path "$TOPOLOGY_DIR") (logs in $(shown_path "$LOG_DIR"))"
    start_redis_nodes
    form_cluster
    start_server_nodes
    start_nginx
    say "The Collective runs on $NODE_COUNT nodes behind nginx: open http://localhost:$NGINX_PORT"
}

cmd_stop() {
    if ! stop_everything; then
        say "nothing was running"
    fi
}

# Prints one line per process and exits 0 when all run, 3 when none does (the
# LSB code for "not running") and 1 when only some do.
cmd_status() {
    local file name pid port running=0 total=0
    while read -r file; do
        total=$((total + 1))
        name="$(basename "$file" .pid)"
        if ! pid="$(running_pid "$file")"; then
            say "$name: not running"
            continue
        fi
        running=$((running + 1))
        case "$name" in
            redis-*)
                port="${name#redis-}"
                say "$name: running (pid $pid), $("$REDIS_CLI_BIN" -h 127.0.0.1 -p "$port" cluster info 2>/dev/null \
                    | tr -d '\r' | grep -E '^cluster_state:' || printf 'no answer')"
                ;;
            node-*)
                port="${name#node-}"
                say "$name: running (pid $pid), /health/ready: $(curl -sS --max-time 2 "http://127.0.0.1:$port/health/ready" 2>&1)"
                ;;
            nginx)
                port="$(sed -n 's/^ *listen 127\.0\.0\.1:\([0-9]*\);/\1/p' "$TOPOLOGY_DIR/nginx/collective.conf" 2>/dev/null)"
                say "nginx: running (pid $pid) on http://localhost:$port, /health/ready through it: $(curl -sS --max-time 2 \
                    "http://127.0.0.1:$port/health/ready" 2>&1)"
                ;;
        esac
    done < <(all_pid_files)

    if [ "$total" -eq 0 ] || [ "$running" -eq 0 ]; then
        say "the topology is not running"
        return 3
    fi
    [ "$running" -eq "$total" ] || return 1
}

main() {
    local command="${1:-}"
    [ $# -gt 0 ] && shift
    [ $# -eq 0 ] || fail "'$command' takes no arguments; the settings are the TOPOLOGY_* variables described at the top of $0"
    case "$command" in
        start) cmd_start ;;
        stop) cmd_stop ;;
        status) cmd_status ;;
        help | -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' ;;
        *) fail "usage: $0 start|stop|status (unknown command '$command')" ;;
    esac
}

main "$@"
