# shellcheck shell=bash
# Tests of deploy/topology.sh, sourced by run.sh: a Redis Cluster, several
# server nodes and nginx on this machine, all on private loopback ports and a
# private state folder.

TOPOLOGY_SCRIPT="$ROOT/deploy/topology.sh"
WITNESSES="$DEPLOY_TESTS_DIR/websocket_witnesses.py"

# The server the topology runs; the e2e tests read the same variable.
topology_server_bin() {
    printf '%s' "${COLLECTIVE_SERVER_BIN:-${COLLECTIVE_BUILD_DIR:-$ROOT/build/dev}/server/collective-server}"
}

# Prints the first port of $3 consecutive free loopback ports in [$1, $2),
# each also free at port + $4 (default: no second port), starting at a random
# offset so that concurrent runs seldom pick the same block.
free_port_block() {
    local low="$1" high="$2" count="$3" offset="${4:-0}" span base tries i
    span=$((high - low - count))
    base=$((low + RANDOM % span))
    for ((tries = 0; tries < span; tries++)); do
        for ((i = 0; i < count; i++)); do
            port_in_use $((base + i)) && break
            [ "$offset" -gt 0 ] && port_in_use $((base + i + offset)) && break
        done
        if [ "$i" -eq "$count" ]; then
            printf '%s' "$base"
            return 0
        fi
        base=$((low + (base - low + 1) % span))
    done
    fail_test "no $count consecutive free ports between $low and $high"
}

# Points deploy/topology.sh at a fresh state folder and free ports, and stops
# whatever the test started when it ends.
use_private_topology() {
    command -v "${NGINX_BIN:-/usr/sbin/nginx}" >/dev/null \
        || fail_test "nginx is not installed: ./deploy.sh test installs it (Debian package nginx)"
    TEST_TOPOLOGY_DIR="$(mktemp -d "${TMPDIR:-/tmp}/collective-topology-test.XXXXXX")"
    export TOPOLOGY_DIR="$TEST_TOPOLOGY_DIR"
    export COLLECTIVE_SERVER_BIN
    COLLECTIVE_SERVER_BIN="$(topology_server_bin)"
    TEST_NGINX_PORT="$(free_port 4700 4800)"
    export TOPOLOGY_PORT="$TEST_NGINX_PORT"
    TEST_NODE_PORT="$(free_port_block 4800 4900 3)"
    export TOPOLOGY_NODE_PORT="$TEST_NODE_PORT" TOPOLOGY_NODES=3
    # Redis takes each port + 10000 for its cluster bus as well.
    TEST_REDIS_PORT="$(free_port_block 7200 7900 6 10000)"
    export TOPOLOGY_REDIS_PORT="$TEST_REDIS_PORT"
    trap 'set +e; bash "$TOPOLOGY_SCRIPT" stop >/dev/null 2>&1; rm -rf "$TEST_TOPOLOGY_DIR"' EXIT
}

# Prints the pid of every process the topology started, from its pid files.
topology_pids() {
    local file
    for file in "$TEST_TOPOLOGY_DIR"/run/*.pid; do
        [ -e "$file" ] && head -n 1 "$file"
    done
    return 0
}

# Succeeds when process $1 is gone or a zombie (exited, not yet reaped).
process_ended() {
    local state
    state="$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" || return 0
    [ -z "$state" ] || [ "$state" = Z ]
}

test_topology_start_balances_and_stops() {
    use_private_topology
    # Short ticks, so the nodes' counts reach the cluster within a second.
    export COLLECTIVE_TICK_INTERVAL_MS=500
    local output status pid node
    local nginx_url="http://127.0.0.1:$TEST_NGINX_PORT"
    local nodes=("http://127.0.0.1:$TEST_NODE_PORT" "http://127.0.0.1:$((TEST_NODE_PORT + 1))"
        "http://127.0.0.1:$((TEST_NODE_PORT + 2))")

    output="$(bash "$TOPOLOGY_SCRIPT" start 2>&1)" || fail_test "start failed: $output"
    check_contains "$output" "The Collective runs on 3 nodes behind nginx: open http://localhost:$TEST_NGINX_PORT" \
        "start output"
    local pids
    mapfile -t pids < <(topology_pids)
    check_equal 10 "${#pids[@]}" "pid files (6 Redis nodes, 3 server nodes, nginx)"

    status=0
    output="$(bash "$TOPOLOGY_SCRIPT" status 2>&1)" || status=$?
    check_equal 0 "$status" "status exit code while everything runs"
    check_equal 6 "$(grep -c 'cluster_state:ok' <<<"$output")" "Redis nodes reporting cluster_state:ok"

    check_equal '{"status":"live"}' "$(curl -fsS "$nginx_url/health/live")" "/health/live through nginx"
    curl -fsS -o /dev/null "$nginx_url/health/ready" || fail_test "/health/ready through nginx did not return 200"

    # Three witnesses through nginx: least_conn gives each node one, and the
    # first node's global count, read from the cluster, adds up all three.
    output="$(/usr/bin/python3 "$WITNESSES" "$nginx_url" --count 3 --origin http://localhost \
        --node "${nodes[0]}" --node "${nodes[1]}" --node "${nodes[2]}" --expect-total 3 2>&1)" \
        || fail_test "witnesses through nginx: $output"
    for node in "${nodes[@]}"; do
        check_contains "$output" "node $node witnesses 1" "witnesses on each node"
    done

    # nginx passes the Origin header on, so the nodes still reject a foreign page.
    output="$(/usr/bin/python3 "$WITNESSES" "$nginx_url" --origin http://other.example --expect-status 403 2>&1)" \
        || fail_test "upgrade from a foreign origin through nginx: $output"

    # A node killed outright is skipped: new witnesses all reach the others.
    kill -KILL "$(head -n 1 "$TEST_TOPOLOGY_DIR/run/node-$((TEST_NODE_PORT + 1)).pid")"
    output="$(/usr/bin/python3 "$WITNESSES" "$nginx_url" --count 4 --node "${nodes[0]}" --node "${nodes[2]}" 2>&1)" \
        || fail_test "witnesses through nginx with one node down: $output"
    check_contains "$output" "joined 4" "witnesses with one node down"
    status=0
    bash "$TOPOLOGY_SCRIPT" status >/dev/null 2>&1 || status=$?
    check_equal 1 "$status" "status exit code with one node down"

    output="$(bash "$TOPOLOGY_SCRIPT" stop 2>&1)" || fail_test "stop failed: $output"
    check_contains "$output" "stopped nginx" "stop output"
    for pid in "${pids[@]}"; do
        process_ended "$pid" || fail_test "process $pid still runs after stop: $(tr '\0' ' ' <"/proc/$pid/cmdline")"
    done
    for port in "$TEST_NGINX_PORT" "$TEST_NODE_PORT" "$((TEST_NODE_PORT + 2))" "$TEST_REDIS_PORT" "$((TEST_REDIS_PORT + 5))"; do
        ! port_in_use "$port" || fail_test "port $port still accepts connections after stop"
    done
    [ -z "$(topology_pids)" ] || fail_test "pid files are left in $TEST_TOPOLOGY_DIR/run after stop"

    status=0
    bash "$TOPOLOGY_SCRIPT" status >/dev/null 2>&1 || status=$?
    check_equal 3 "$status" "status exit code after stop"
}

test_topology_rejects_busy_port() {
    use_private_topology
    local output status=0

    # A Redis cluster bus port, the port a check misses most easily.
    # Not local: the EXIT trap runs after this function has returned.
    /usr/bin/python3 -c 'import socket, sys, time
listener = socket.socket(); listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", int(sys.argv[1]))); listener.listen(); time.sleep(60)' "$((TEST_REDIS_PORT + 10002))" &
    LISTENER_PID=$!
    trap 'set +e; kill "$LISTENER_PID" 2>/dev/null; bash "$TOPOLOGY_SCRIPT" stop >/dev/null 2>&1; rm -rf "$TEST_TOPOLOGY_DIR"' EXIT
    wait_for_port "$((TEST_REDIS_PORT + 10002))"

    output="$(bash "$TOPOLOGY_SCRIPT" start 2>&1)" || status=$?
    [ "$status" -ne 0 ] || fail_test "start succeeded although port $((TEST_REDIS_PORT + 10002)) is in use"
    check_contains "$output" "port $((TEST_REDIS_PORT + 10002)) (a Redis cluster bus" "start message"
    [ -z "$(topology_pids)" ] || fail_test "start left pid files behind"
    ! port_in_use "$TEST_REDIS_PORT" || fail_test "a Redis node was started and left running"
}

test_topology_rejects_missing_program() {
    use_private_topology
    local output status=0
    output="$(NGINX_BIN=/nonexistent/nginx bash "$TOPOLOGY_SCRIPT" start 2>&1)" || status=$?
    [ "$status" -ne 0 ] || fail_test "start succeeded without nginx"
    check_contains "$output" "/nonexistent/nginx is not installed" "start message"
    [ -z "$(topology_pids)" ] || fail_test "start left pid files behind"
}

test_topology_rejects_invalid_setting() {
    use_private_topology
    local output status=0
    output="$(TOPOLOGY_NODES=three bash "$TOPOLOGY_SCRIPT" start 2>&1)" || status=$?
    [ "$status" -ne 0 ] || fail_test "start accepted TOPOLOGY_NODES=three"
    check_contains "$output" "invalid TOPOLOGY_NODES 'three'" "start message"
}
