# shellcheck shell=bash
# Tests of deploy.sh's commands, sourced by run.sh.
#
# Each test gives deploy.sh its own state folder (COLLECTIVE_VAR_DIR), a free
# loopback port and a free Redis port, so it never touches var/ of the
# checkout or a development server that is already running.

# Points deploy.sh at a fresh state folder and free ports, and stops whatever
# the test started when it ends.
use_private_dev_state() {
    TEST_VAR_DIR="$(mktemp -d "${TMPDIR:-/tmp}/collective-deploy-test.XXXXXX")"
    export COLLECTIVE_VAR_DIR="$TEST_VAR_DIR"
    TEST_PORT="$(free_port 4600 4700)"
    export PORT="$TEST_PORT"
    TEST_REDIS_PORT="$(free_port 6400 6500)"
    export COLLECTIVE_DEV_REDIS_PORT="$TEST_REDIS_PORT"
    trap 'set +e; "$DEPLOY" dev:stop >/dev/null 2>&1; rm -rf "$TEST_VAR_DIR"' EXIT
}

# Succeeds when a Docker engine is reachable, in which case the prod:* failure tests skip.
docker_engine_running() {
    command -v docker >/dev/null && timeout 15 docker info >/dev/null 2>&1
}

test_dev_start_status_stop_round_trip() {
    use_private_dev_state
    local output pid

    output="$("$DEPLOY" dev:start 2>&1)" || fail_test "dev:start failed: $output"
    check_contains "$output" "The Collective is live: open http://localhost:$TEST_PORT" "dev:start output"
    pid="$(cat "$TEST_VAR_DIR/run/server.pid")"
    process_alive "$pid" || fail_test "the server (pid $pid) is not running after dev:start"
    curl -fsS -o /dev/null "http://127.0.0.1:$TEST_PORT/health/ready" || fail_test "/health/ready did not return 200"

    # status reads the port from var/run, so it finds the server without PORT.
    output="$(env -u PORT "$DEPLOY" status 2>&1)" || fail_test "status failed while the server runs: $output"
    check_contains "$output" "running (pid $pid) on http://localhost:$TEST_PORT" "status output"
    check_contains "$output" '{"status":"ready"}' "status readiness"

    output="$("$DEPLOY" dev:start 2>&1)" || fail_test "a second dev:start failed: $output"
    check_contains "$output" "already running (pid $pid)" "second dev:start output"

    output="$("$DEPLOY" dev:stop 2>&1)" || fail_test "dev:stop failed: $output"
    check_contains "$output" "the development server stopped" "dev:stop output"
    ! process_alive "$pid" || fail_test "the server (pid $pid) still runs after dev:stop"
    check_file_missing "$TEST_VAR_DIR/run/server.pid"

    local status=0
    "$DEPLOY" status >/dev/null 2>&1 || status=$?
    check_equal 3 "$status" "status exit code with nothing running"
}

test_dev_start_redis_round_trip() {
    use_private_dev_state
    local output redis_pid

    output="$("$DEPLOY" dev:start --redis 2>&1)" || fail_test "dev:start --redis failed: $output"
    check_contains "$output" "with Redis at redis://127.0.0.1:$TEST_REDIS_PORT/0" "dev:start --redis output"
    redis_pid="$(cat "$TEST_VAR_DIR/run/redis.pid")"
    [ -d "$TEST_VAR_DIR/redis" ] || fail_test "no Redis data folder under the state folder"

    output="$("$DEPLOY" status 2>&1)" || fail_test "status failed: $output"
    check_contains "$output" '"backend":"redis"' "server store backend"
    check_contains "$output" "the development Redis is running (pid $redis_pid)" "status Redis line"

    output="$("$DEPLOY" redis ping 2>&1)" || fail_test "deploy.sh redis ping failed: $output"
    check_equal PONG "$output" "redis ping"

    "$DEPLOY" dev:stop >/dev/null 2>&1 || fail_test "dev:stop failed"
    ! process_alive "$redis_pid" || fail_test "redis-server (pid $redis_pid) still runs after dev:stop"
    ! port_in_use "$TEST_REDIS_PORT" || fail_test "port $TEST_REDIS_PORT still accepts connections after dev:stop"
}

test_dev_start_failure_leaves_nothing_running() {
    use_private_dev_state
    local output status=0

    # An invalid setting makes the server exit at once, after Redis started.
    output="$(COLLECTIVE_TICK_INTERVAL_MS=1 "$DEPLOY" dev:start --redis 2>&1)" || status=$?
    [ "$status" -ne 0 ] || fail_test "dev:start succeeded with an invalid COLLECTIVE_TICK_INTERVAL_MS"
    check_contains "$output" "did not become ready" "dev:start failure message"
    check_contains "$output" "COLLECTIVE_TICK_INTERVAL_MS" "server log line naming the setting"
    ! port_in_use "$TEST_PORT" || fail_test "port $TEST_PORT still accepts connections"
    ! port_in_use "$TEST_REDIS_PORT" || fail_test "the development Redis was left running"
    check_file_missing "$TEST_VAR_DIR/run/server.pid"
    check_file_missing "$TEST_VAR_DIR/run/redis.pid"
}

test_dev_start_rejects_busy_port() {
    use_private_dev_state
    local output status=0

    # Not local: the EXIT trap runs after this function has returned.
    /usr/bin/python3 -c 'import socket, sys, time
listener = socket.socket(); listener.bind(("127.0.0.1", int(sys.argv[1]))); listener.listen(); time.sleep(60)' "$TEST_PORT" &
    LISTENER_PID=$!
    trap 'set +e; kill "$LISTENER_PID" 2>/dev/null; "$DEPLOY" dev:stop >/dev/null 2>&1; rm -rf "$TEST_VAR_DIR"' EXIT
    wait_for_port "$TEST_PORT"

    output="$("$DEPLOY" dev:start 2>&1)" || status=$?
    [ "$status" -ne 0 ] || fail_test "dev:start succeeded on a port another process listens on"
    check_contains "$output" "port $TEST_PORT is already in use" "dev:start message"
    check_file_missing "$TEST_VAR_DIR/run/server.pid"
}

# Waits up to 5 s for something to listen on 127.0.0.1:$1.
wait_for_port() {
    local tries
    for ((tries = 50; tries > 0; tries--)); do
        port_in_use "$1" && return 0
        sleep 0.1
    done
    fail_test "nothing listens on port $1 after 5 s"
}

test_dev_start_rejects_unknown_option() {
    use_private_dev_state
    local output status=0
    output="$("$DEPLOY" dev:start --turbo 2>&1)" || status=$?
    [ "$status" -ne 0 ] || fail_test "dev:start accepted --turbo"
    check_contains "$output" "unknown option '--turbo'" "dev:start message"
}

test_secret_prints_fresh_long_keys() {
    local first second
    first="$("$DEPLOY" secret)" || fail_test "secret failed"
    second="$("$DEPLOY" secret)" || fail_test "secret failed the second time"

    check_equal 88 "${#first}" "characters in the key"
    check_equal 64 "$(printf '%s' "$first" | base64 --decode | wc -c)" "bytes the key decodes to"
    [ "$first" != "$second" ] || fail_test "two calls printed the same key"
}

test_cleanup_stops_everything_keeps_data() {
    use_private_dev_state
    local output server_pid redis_pid

    "$DEPLOY" dev:start --redis >/dev/null 2>&1 || fail_test "dev:start --redis failed"
    server_pid="$(cat "$TEST_VAR_DIR/run/server.pid")"
    redis_pid="$(cat "$TEST_VAR_DIR/run/redis.pid")"

    output="$("$DEPLOY" cleanup 2>&1)" || fail_test "cleanup failed: $output"
    ! process_alive "$server_pid" || fail_test "the server (pid $server_pid) still runs after cleanup"
    ! process_alive "$redis_pid" || fail_test "redis-server (pid $redis_pid) still runs after cleanup"
    check_file_missing "$TEST_VAR_DIR/run"
    [ -d "$TEST_VAR_DIR/data" ] || fail_test "cleanup removed the data folder"
    [ -d "$TEST_VAR_DIR/redis" ] || fail_test "cleanup removed the Redis data folder"

    output="$("$DEPLOY" cleanup --all 2>&1)" || fail_test "cleanup --all failed: $output"
    check_file_missing "$TEST_VAR_DIR/data"
    check_file_missing "$TEST_VAR_DIR/redis"
    check_file_missing "$TEST_VAR_DIR/log"
}

test_unknown_command_prints_help() {
    local output status=0
    output="$("$DEPLOY" dev:launch 2>&1)" || status=$?
    [ "$status" -ne 0 ] || fail_test "an unknown command exited 0"
    check_contains "$output" "unknown command 'dev:launch'" "error message"
    check_contains "$output" "Usage: ./deploy.sh COMMAND" "help text"
}

test_help_lists_every_command() {
    local output command
    output="$("$DEPLOY" help)" || fail_test "help failed"
    for command in dev:start dev:stop topology:start topology:stop prod:build prod:start prod:stop prod:restart \
        prod:shell status redis secret cleanup test test:unit bench help; do
        grep -qE "^  $command( |$)" <<<"$output" || fail_test "help does not list $command"
    done
}

test_prod_commands_without_engine_fail_clearly() {
    docker_engine_running && skip_test "a Docker engine runs here, so prod:* would really start"
    local expected="no Docker engine is running: start one or use dev:start"
    command -v docker >/dev/null || expected="docker is not installed"

    local command output status
    for command in prod:build prod:start prod:stop prod:restart prod:shell; do
        status=0
        output="$("$DEPLOY" "$command" 2>&1)" || status=$?
        [ "$status" -ne 0 ] || fail_test "$command exited 0 without a Docker engine"
        check_contains "$output" "$expected" "$command message"
    done
}

test_redis_without_any_redis_fails_clearly() {
    docker_engine_running && skip_test "a Docker engine runs here, so a production Redis may be running"
    use_private_dev_state
    local output status=0
    output="$("$DEPLOY" redis ping 2>&1)" || status=$?
    [ "$status" -ne 0 ] || fail_test "redis exited 0 with no Redis running"
    check_contains "$output" "no Redis is running" "redis message"
}

test_bench_options() {
    local output status=0
    output="$("$DEPLOY" bench --help 2>&1)" || status=$?
    check_equal 0 "$status" "bench --help exit code"
    check_contains "$output" "--full" "bench --help text"

    status=0
    output="$("$DEPLOY" bench --bogus 2>&1)" || status=$?
    check_equal 1 "$status" "bench --bogus exit code"
    check_contains "$output" "unknown bench option" "bench --bogus message"
}
