#!/usr/bin/env bash
# deploy.sh: every operator command of The Collective.
#
#   ./deploy.sh dev:start   install what is missing, build, serve on :4000
#   ./deploy.sh test        install what the tests need, build, run every test
#   ./deploy.sh help        list every command
#
# Development state lives under var/ in the checkout: var/data (the embedded
# store), var/redis (the development Redis of dev:start --redis), var/log,
# var/run (pid files) and var/topology (the several-node topology of
# topology:start, run by deploy/topology.sh). The prod:* commands drive the
# Docker Compose stack in packaging/docker-compose.yml.
#
# Environment read here, besides what the server itself reads:
#   COLLECTIVE_BUILD_DIR        build folder (default build/dev)
#   COLLECTIVE_BUILD_TYPE       CMake build type (default RelWithDebInfo)
#   COLLECTIVE_BUILD_JOBS       parallel compile jobs (default: the number of cores)
#   COLLECTIVE_BUILD_KIOSK      ON or OFF: build the QML kiosk (default: the CMake option's)
#   COLLECTIVE_VAR_DIR          development state folder (default var)
#   COLLECTIVE_DEV_REDIS_PORT   port of the development Redis (default 6399)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# COLLECTIVE_BUILD_DIR lets several checkouts or builds live side by side.
BUILD_DIR="${COLLECTIVE_BUILD_DIR:-$ROOT/build/dev}"
BUILD_TYPE="${COLLECTIVE_BUILD_TYPE:-RelWithDebInfo}"
BUILD_JOBS="${COLLECTIVE_BUILD_JOBS:-$(nproc)}"
SERVER_BIN="$BUILD_DIR/server/collective-server"

VAR_DIR="${COLLECTIVE_VAR_DIR:-$ROOT/var}"
PID_FILE="$VAR_DIR/run/server.pid"
# The port the running development server was started on, for status.
PORT_FILE="$VAR_DIR/run/server.port"
LOG_FILE="$VAR_DIR/log/server.log"
DEV_PORT="${PORT:-4000}"

REDIS_PID_FILE="$VAR_DIR/run/redis.pid"
REDIS_LOG_FILE="$VAR_DIR/log/redis.log"
REDIS_DATA_DIR="$VAR_DIR/redis"
DEV_REDIS_PORT="${COLLECTIVE_DEV_REDIS_PORT:-6399}"

COMPOSE_FILE="$ROOT/packaging/docker-compose.yml"

TOPOLOGY_SCRIPT="$ROOT/deploy/topology.sh"

# Debian 12 packages, by what needs them. The Dockerfile's build stage
# installs BUILD_PACKAGES and UNIT_TEST_PACKAGES (tests/deploy checks that
# the lists match).
BUILD_PACKAGES=(cmake ninja-build g++ pkg-config curl ca-certificates
    qt6-base-dev qt6-websockets-dev qt6-httpserver-dev libhiredis-dev)
# The Qt Test suites of the Redis store start a real redis-server.
UNIT_TEST_PACKAGES=(redis-server)
# The collective-witness kiosk: Qt Quick to build it, and the QML modules its
# Qt Quick Test suites import.
KIOSK_BUILD_PACKAGES=(qt6-declarative-dev)
KIOSK_TEST_PACKAGES=(qml6-module-qtquick qml6-module-qtquick-window qml6-module-qtqml-workerscript
    qml6-module-qttest fonts-dejavu-extra fonts-liberation)
# The libFuzzer targets need Clang and its sanitizer runtimes.
FUZZ_PACKAGES=(clang libclang-rt-14-dev)
TEST_PACKAGES=(chromium nodejs)
# cpack's DEB generator runs dpkg-shlibdeps (dpkg-dev) and file; the
# Compose file check reads YAML with Debian's python3-yaml.
DEPLOY_TEST_PACKAGES=(dpkg-dev file python3-yaml)
# nginx balances WebSockets over several nodes in topology:start, in the
# end-to-end tests of several nodes and in the deployment tests. It is
# installed by ensure_nginx, not ensure_packages: see there why.
BALANCER_PACKAGES=(nginx)
# topology:start runs a Redis Cluster of Debian's redis-server behind nginx.
TOPOLOGY_PACKAGES=(redis-server curl)

say() { printf '%s\n' "deploy.sh: $*"; }
fail() { printf '%s\n' "deploy.sh: $*" >&2; exit 1; }

# Prints a path relative to the checkout when it is inside it.
shown_path() { printf '%s' "${1#"$ROOT"/}"; }

# --- installation ----------------------------------------------------------

missing_packages() {
    local package
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || printf '%s ' "$package"
    done
}

# Installs the Debian packages that are missing, with sudo when not root.
ensure_packages() {
    local missing
    missing="$(missing_packages "$@")"
    [ -z "$missing" ] && return 0

    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || fail "these Debian packages are missing and there is no sudo to install them: $missing"
        sudo=(sudo)
    fi
    say "installing Debian packages: $missing"
    "${sudo[@]}" apt-get update -qq || fail "apt-get update failed: check the network and /etc/apt/sources.list"
    # shellcheck disable=SC2086 # the list is meant to split into words
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends $missing \
        || fail "apt-get install failed for: $missing"
}

# Runs "$@" as root: directly when root, else with sudo.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    else
        command -v sudo >/dev/null || fail "this step needs root and there is no sudo: $*"
        sudo "$@"
    fi
}

# Installs BALANCER_PACKAGES (Debian's nginx) when missing, without leaving a
# system-wide nginx running. Debian starts a daemon as soon as its package is
# installed, and at every boot, so nginx would serve its default site on port
# 80 of this machine. Nothing here uses that nginx, because topology:start and
# the tests start their own on loopback ports. During the installation, a
# policy-rc.d that denies every start (exit status 101, the policy interface
# of Debian's invoke-rc.d) is in place, unless the machine already has one, as
# Docker's Debian images do. Afterwards the start at boot is disabled. An
# nginx that was installed before is left as it is.
ensure_nginx() {
    [ -z "$(missing_packages "${BALANCER_PACKAGES[@]}")" ] && return 0

    local policy=/usr/sbin/policy-rc.d own_policy=0
    if [ ! -e "$policy" ]; then
        printf '%s\n' '#!/bin/sh' \
            '# Written by deploy.sh while it installs nginx, and removed right after: no service starts.' \
            'exit 101' | as_root tee "$policy" >/dev/null || fail "writing $policy failed"
        as_root chmod 0755 "$policy"
        own_policy=1
        # An interrupted installation must not leave every later service start denied.
        trap 'as_root rm -f "$policy"; exit 130' INT TERM
    fi

    local status=0
    (ensure_packages "${BALANCER_PACKAGES[@]}") || status=$?

    if [ "$own_policy" -eq 1 ]; then
        as_root rm -f "$policy"
        trap - INT TERM
    fi
    [ "$status" -eq 0 ] || exit "$status"

    # Both succeed, or fail harmlessly, whichever init system the machine has.
    if command -v systemctl >/dev/null; then
        as_root systemctl disable --quiet nginx.service >/dev/null 2>&1 || true
    fi
    if command -v update-rc.d >/dev/null; then
        as_root update-rc.d nginx disable >/dev/null 2>&1 || true
    fi
    say "installed nginx without starting it; it will not start at boot (systemctl enable nginx turns that back on)"
}

# Node.js 18 or newer for the end-to-end tests; Debian 12's nodejs is 18.
ensure_node() {
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        ensure_packages nodejs npm
    fi
    local major
    major="$(node -p 'process.versions.node.split(".")[0]')"
    [ "$major" -ge 18 ] || fail "Node.js $major is too old for the tests: install Node.js 18 or newer"
}

# Succeeds unless COLLECTIVE_BUILD_KIOSK turns the kiosk off. When it is unset
# the CMake option decides, so the kiosk's packages are installed in case.
kiosk_enabled() {
    case "${COLLECTIVE_BUILD_KIOSK:-ON}" in
        OFF | off | 0 | NO | no | FALSE | false) return 1 ;;
        *) return 0 ;;
    esac
}

build() {
    ensure_packages "${BUILD_PACKAGES[@]}"
    if kiosk_enabled; then
        ensure_packages "${KIOSK_BUILD_PACKAGES[@]}"
    fi
    say "building in $(shown_path "$BUILD_DIR") ($BUILD_TYPE)"

    # The same settings as the CMake preset "dev", with a movable build folder.
    local cmake_args=(-G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE")
    if [ -n "${COLLECTIVE_BUILD_KIOSK:-}" ]; then
        cmake_args+=(-DCOLLECTIVE_BUILD_KIOSK="$COLLECTIVE_BUILD_KIOSK")
    fi
    cmake -S "$ROOT" -B "$BUILD_DIR" "${cmake_args[@]}" >/dev/null \
        || fail "CMake configuration failed; see the output above"
    cmake --build "$BUILD_DIR" -- -j"$BUILD_JOBS" || fail "the build failed; see the compiler output above"
}

# --- process helpers -------------------------------------------------------

# Prints the pid stored in the file $1 when that process still runs.
running_pid() {
    [ -f "$1" ] || return 1
    local pid
    pid="$(cat "$1")"
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    printf '%s' "$pid"
}

# Succeeds when something accepts TCP connections on 127.0.0.1:$1.
port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Sends SIGTERM to the process in pid file $1, waits up to 10 s, then SIGKILL.
# $2 names the process in messages. Returns 1 when it was not running.
stop_process() {
    local pid_file="$1" name="$2" pid
    if ! pid="$(running_pid "$pid_file")"; then
        rm -f "$pid_file"
        return 1
    fi
    kill -TERM "$pid"
    local tries=100
    while kill -0 "$pid" 2>/dev/null && [ "$tries" -gt 0 ]; do
        sleep 0.1
        tries=$((tries - 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "the $name did not stop within 10 s; killing it"
        kill -KILL "$pid"
    fi
    rm -f "$pid_file"
}

# --- the development Redis -------------------------------------------------

dev_redis_pid() { running_pid "$REDIS_PID_FILE"; }

dev_redis_url() { printf 'redis://127.0.0.1:%s/0' "$DEV_REDIS_PORT"; }

# Starts redis-server on 127.0.0.1:$DEV_REDIS_PORT with an append-only file
# under var/redis, or keeps the one already started. Fails, leaving nothing
# running, when it does not reply to PING within 5 s.
start_dev_redis() {
    local pid
    if pid="$(dev_redis_pid)"; then
        say "the development Redis is already running (pid $pid) on 127.0.0.1:$DEV_REDIS_PORT"
        return 0
    fi
    ensure_packages redis-server
    if port_in_use "$DEV_REDIS_PORT"; then
        fail "port $DEV_REDIS_PORT is already in use: stop what listens there or set COLLECTIVE_DEV_REDIS_PORT"
    fi
    mkdir -p "$REDIS_DATA_DIR" "$(dirname "$REDIS_LOG_FILE")" "$(dirname "$REDIS_PID_FILE")"

    say "starting redis-server on 127.0.0.1:$DEV_REDIS_PORT (data: $(shown_path "$REDIS_DATA_DIR"))"
    nohup redis-server --bind 127.0.0.1 --port "$DEV_REDIS_PORT" --dir "$REDIS_DATA_DIR" \
        --appendonly yes --daemonize no --logfile "" >>"$REDIS_LOG_FILE" 2>&1 </dev/null &
    echo $! >"$REDIS_PID_FILE"

    local tries=50
    while [ "$tries" -gt 0 ]; do
        if ! dev_redis_pid >/dev/null; then
            rm -f "$REDIS_PID_FILE"
            tail -n 20 "$REDIS_LOG_FILE" >&2
            fail "redis-server exited at start; the last log lines are above"
        fi
        [ "$(redis-cli -h 127.0.0.1 -p "$DEV_REDIS_PORT" ping 2>/dev/null)" = PONG ] && return 0
        sleep 0.1
        tries=$((tries - 1))
    done
    stop_process "$REDIS_PID_FILE" "development Redis" || true
    fail "redis-server did not reply to PING within 5 s; see $(shown_path "$REDIS_LOG_FILE")"
}

stop_dev_redis() {
    if stop_process "$REDIS_PID_FILE" "development Redis"; then
        say "the development Redis stopped"
    fi
}

# --- the development server ------------------------------------------------

server_pid() { running_pid "$PID_FILE"; }

# The port of the running development server, else PORT or 4000.
server_port() {
    if server_pid >/dev/null && [ -s "$PORT_FILE" ]; then
        cat "$PORT_FILE"
    else
        printf '%s' "$DEV_PORT"
    fi
}

wait_until_ready() {
    local url="$1" tries=100
    while [ "$tries" -gt 0 ]; do
        curl -fsS -o /dev/null "$url/health/ready" 2>/dev/null && return 0
        server_pid >/dev/null || return 1
        sleep 0.1
        tries=$((tries - 1))
    done
    return 1
}

cmd_dev_start() {
    local use_redis=0 option
    for option in "$@"; do
        case "$option" in
            --redis) use_redis=1 ;;
            *) fail "unknown option '$option' for dev:start; the only option is --redis" ;;
        esac
    done

    local pid
    if pid="$(server_pid)"; then
        say "the development server is already running (pid $pid) on http://localhost:$(server_port);" \
            "new settings take effect after ./deploy.sh dev:stop and dev:start"
        return 0
    fi
    if ! [[ "$DEV_PORT" =~ ^[0-9]+$ ]] || [ "$DEV_PORT" -lt 1 ] || [ "$DEV_PORT" -gt 65535 ]; then
        fail "invalid PORT '$DEV_PORT': dev:start needs a fixed port from 1 to 65535"
    fi
    # The server refuses a busy port too, but only after the build; checking
    # first saves the wait.
    if port_in_use "$DEV_PORT"; then
        fail "port $DEV_PORT is already in use: stop what listens there or choose another with PORT=..."
    fi
    build
    mkdir -p "$VAR_DIR/data" "$VAR_DIR/log" "$VAR_DIR/run"

    local server_env=(PORT="$DEV_PORT" COLLECTIVE_DATA_DIR="$VAR_DIR/data" COLLECTIVE_ENV="${COLLECTIVE_ENV:-dev}")
    if [ "$use_redis" -eq 1 ]; then
        start_dev_redis
        server_env+=(REDIS_URL="$(dev_redis_url)")
    fi

    say "starting collective-server on port $DEV_PORT (log: $(shown_path "$LOG_FILE"))"
    env "${server_env[@]}" nohup "$SERVER_BIN" >>"$LOG_FILE" 2>&1 </dev/null &
    echo $! >"$PID_FILE"
    echo "$DEV_PORT" >"$PORT_FILE"

    if ! wait_until_ready "http://127.0.0.1:$DEV_PORT"; then
        stop_everything_dev >/dev/null 2>&1 || true
        tail -n 20 "$LOG_FILE" >&2
        fail "the server did not become ready; the last log lines are above"
    fi
    if [ "$use_redis" -eq 1 ]; then
        say "The Collective is live with Redis at $(dev_redis_url): open http://localhost:$DEV_PORT"
    else
        say "The Collective is live: open http://localhost:$DEV_PORT"
    fi
}

# Stops the development server, then the development Redis it used.
stop_everything_dev() {
    if stop_process "$PID_FILE" "server"; then
        say "the development server stopped"
    else
        say "the development server is not running"
    fi
    rm -f "$PORT_FILE"
    stop_dev_redis
}

cmd_dev_stop() {
    [ $# -eq 0 ] || fail "dev:stop takes no options"
    stop_everything_dev
}

# --- Docker Compose (prod:*) -----------------------------------------------

# Fails with what to do unless the docker client, a reachable engine and the
# Compose plugin are all present.
require_docker() {
    command -v docker >/dev/null \
        || fail "docker is not installed: install Docker Engine with its Compose plugin, or use dev:start"
    timeout 15 docker info >/dev/null 2>&1 \
        || fail "no Docker engine is running: start one or use dev:start"
    docker compose version >/dev/null 2>&1 \
        || fail "the Docker Compose plugin is missing: install docker-compose-plugin, or use dev:start"
}

# Succeeds when the production stack can be asked about, without messages.
docker_available() {
    command -v docker >/dev/null && timeout 15 docker info >/dev/null 2>&1 \
        && docker compose version >/dev/null 2>&1
}

compose() {
    docker compose -f "$COMPOSE_FILE" "$@"
}

# Succeeds when the Compose service $1 has a running container.
compose_service_running() {
    [ -n "$(compose ps --status running --quiet "$1" 2>/dev/null)" ]
}

cmd_prod_build() {
    require_docker
    say "building the collective-server image (the unit tests run inside the build)"
    compose build "$@" || fail "the image build failed; see the output above"
    say "image built"
}

cmd_prod_start() {
    require_docker
    say "starting the production stack from $(shown_path "$COMPOSE_FILE")"
    # --wait returns once every container's health check passes, or fails.
    if ! timeout 600 docker compose -f "$COMPOSE_FILE" up --detach --wait "$@"; then
        compose logs --tail 30 >&2 || true
        compose down >/dev/null 2>&1 || true
        fail "the production stack did not become healthy and was taken down; its last log lines are above"
    fi
    compose ps
    say "the production stack is up"
}

cmd_prod_stop() {
    require_docker
    compose down "$@" || fail "docker compose down failed; see the output above"
    say "the production stack stopped; its volumes are kept (docker compose down --volumes deletes them)"
}

cmd_prod_restart() {
    require_docker
    cmd_prod_stop
    cmd_prod_start "$@"
}

cmd_prod_shell() {
    require_docker
    compose_service_running app || fail "the production stack is not running: start it with prod:start"
    if [ $# -eq 0 ]; then
        set -- bash
    fi
    compose exec app "$@"
}

# --- the several-node topology (topology:*) ----------------------------------

# Runs deploy/topology.sh with the server of this build and with its state
# under COLLECTIVE_VAR_DIR, so that a private state folder, as the deployment
# tests use, contains the topology too.
run_topology() {
    TOPOLOGY_DIR="${TOPOLOGY_DIR:-$VAR_DIR/topology}" COLLECTIVE_SERVER_BIN="${COLLECTIVE_SERVER_BIN:-$SERVER_BIN}" \
        bash "$TOPOLOGY_SCRIPT" "$@"
}

cmd_topology_start() {
    [ $# -eq 0 ] || fail "topology:start takes no options; its settings are the TOPOLOGY_* variables listed in deploy/topology.sh"
    ensure_packages "${TOPOLOGY_PACKAGES[@]}"
    ensure_nginx
    build
    run_topology start
}

cmd_topology_stop() {
    [ $# -eq 0 ] || fail "topology:stop takes no options"
    run_topology stop
}

# --- status, Redis CLI, secrets, cleanup -----------------------------------

cmd_status() {
    local pid anything_running=0
    local port
    port="$(server_port)"
    if pid="$(server_pid)"; then
        anything_running=1
        say "the development server is running (pid $pid) on http://localhost:$port"
        curl -fsS "http://127.0.0.1:$port/health/ready" || true
        echo
        curl -fsS "http://127.0.0.1:$port/metrics/state" || true
        echo
    else
        say "the development server is not running"
    fi

    if pid="$(dev_redis_pid)"; then
        anything_running=1
        say "the development Redis is running (pid $pid) at $(dev_redis_url)"
    fi

    local topology_status=0 topology_output
    topology_output="$(run_topology status 2>&1)" || topology_status=$?
    if [ "$topology_status" -ne 3 ]; then
        anything_running=1
        say "the several-node topology (topology:start):"
        printf '%s\n' "$topology_output"
    fi

    if docker_available && [ -n "$(compose ps --quiet 2>/dev/null)" ]; then
        anything_running=1
        say "the production stack:"
        compose ps
    fi

    # 3 is the LSB status code for "not running".
    [ "$anything_running" -eq 1 ] || return 3
}

cmd_redis() {
    if dev_redis_pid >/dev/null; then
        exec redis-cli -h 127.0.0.1 -p "$DEV_REDIS_PORT" "$@"
    fi
    if docker_available && compose_service_running redis-1; then
        local tty=()
        [ -t 0 ] || tty=(-T)
        # -c follows the cluster's MOVED redirects to the node that owns a key.
        exec docker compose -f "$COMPOSE_FILE" exec "${tty[@]}" redis-1 redis-cli -c "$@"
    fi
    # The topology's cluster: its first node, which -c leaves when a key
    # lives elsewhere.
    local topology_port="${TOPOLOGY_REDIS_PORT:-7101}"
    if run_topology status >/dev/null 2>&1 && redis-cli -p "$topology_port" ping >/dev/null 2>&1; then
        exec redis-cli -c -h 127.0.0.1 -p "$topology_port" "$@"
    fi
    fail "no Redis is running: start the development one with dev:start --redis, the topology with topology:start, or the production stack with prod:start"
}

# Prints 64 random bytes from the kernel's CSPRNG, base64-encoded (88 characters).
cmd_secret() {
    [ $# -eq 0 ] || fail "secret takes no options"
    local key
    key="$(head -c 64 /dev/urandom | base64 --wrap=0)" || fail "reading /dev/urandom failed"
    [ "${#key}" -eq 88 ] || fail "the generated key has ${#key} characters instead of 88"
    printf '%s\n' "$key"
}

cmd_cleanup() {
    local remove_all=0 option
    for option in "$@"; do
        case "$option" in
            --all) remove_all=1 ;;
            *) fail "unknown option '$option' for cleanup; the only option is --all" ;;
        esac
    done

    stop_everything_dev
    rm -rf "$VAR_DIR/run"
    if [ "$remove_all" -eq 1 ]; then
        rm -rf "$VAR_DIR/data" "$VAR_DIR/redis" "$VAR_DIR/log"
        say "removed $(shown_path "$VAR_DIR")/run, data, redis and log"
    else
        say "removed $(shown_path "$VAR_DIR")/run; kept data, redis and log (cleanup --all removes them)"
    fi
}

# --- tests -----------------------------------------------------------------

# Builds and runs the Qt Test suites only. The Dockerfile's build stage runs
# this same command, so the image is built only from code that passed them.
cmd_test_unit() {
    ensure_packages "${UNIT_TEST_PACKAGES[@]}"
    if kiosk_enabled; then
        ensure_packages "${KIOSK_TEST_PACKAGES[@]}"
    fi
    build
    say "running the Qt Test suites"
    (cd "$BUILD_DIR" && ctest --output-on-failure --timeout 300) || fail "Qt Test suites failed"
}

# Builds the server and its Qt Test suites with AddressSanitizer and
# UndefinedBehaviorSanitizer (CMake preset asan) and runs them.
cmd_test_sanitize() {
    ensure_packages "${BUILD_PACKAGES[@]}" "${UNIT_TEST_PACKAGES[@]}"
    say "building with AddressSanitizer and UndefinedBehaviorSanitizer (preset asan)"
    cmake --preset asan -S "$ROOT" >/dev/null || fail "CMake configuration of the asan preset failed"
    cmake --build --preset asan -- -j"$BUILD_JOBS" || fail "the sanitizer build failed"
    say "running the Qt Test suites under the sanitizers"
    # NOTE: leak detection is off because Qt keeps some allocations until
    # exit on purpose; address and undefined-behaviour errors still fail.
    (cd "$ROOT" && ctest --preset asan) || fail "Qt Test suites failed under the sanitizers"

    # The server itself under the sanitizers, driven by the end-to-end tests
    # that exercise its socket threads, limits, drain and error paths. A
    # sanitizer report aborts the server, which fails the test that ran it.
    ensure_node
    (cd "$ROOT/tests/e2e" && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci failed in tests/e2e"
    say "running end-to-end tests against the sanitizer build of the server"
    (cd "$ROOT/tests/e2e" && COLLECTIVE_SERVER_BIN="$ROOT/build/asan/server/collective-server" \
        ASAN_OPTIONS="detect_leaks=0:abort_on_error=1" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
        node --test --test-concurrency=1 protocol.test.mjs limits.test.mjs filelimit.test.mjs drain.test.mjs \
            privacy.test.mjs) \
        || fail "end-to-end tests failed against the sanitizer build"
}

# Builds the libFuzzer targets (CMake preset fuzz) and runs each for a
# bounded time from its seed corpus in tests/fuzz/corpus.
cmd_test_fuzz() {
    ensure_packages "${BUILD_PACKAGES[@]}" "${FUZZ_PACKAGES[@]}"
    local seconds="${COLLECTIVE_FUZZ_SECONDS:-15}"
    say "building the libFuzzer targets (preset fuzz)"
    cmake --preset fuzz -S "$ROOT" >/dev/null || fail "CMake configuration of the fuzz preset failed"
    cmake --build --preset fuzz -- -j"$BUILD_JOBS" || fail "the fuzz build failed"

    local target corpus
    for target in frame messages config redisurl websocket handshake; do
        # The corpus grows as the fuzzer finds new inputs; the seeds in the
        # checkout stay as they are.
        corpus="$(mktemp -d)"
        cp "$ROOT/tests/fuzz/corpus/$target/"* "$corpus/"
        say "fuzzing the $target parser for $seconds s"
        if ! (cd "$corpus" && "$ROOT/build/fuzz/tests/fuzz/fuzz_$target" -max_total_time="$seconds" \
            -max_len=4096 -print_final_stats=1 "$corpus" >"$corpus.log" 2>&1); then
            tail -n 40 "$corpus.log" >&2
            fail "fuzz_$target found a failing input; it is saved as crash-* in $corpus"
        fi
        grep -E '^stat::number_of_executed_units' "$corpus.log" || true
        rm -rf "$corpus" "$corpus.log"
    done
}

cmd_test() {
    ensure_packages "${BUILD_PACKAGES[@]}" "${UNIT_TEST_PACKAGES[@]}" "${TEST_PACKAGES[@]}" \
        "${DEPLOY_TEST_PACKAGES[@]}" "${TOPOLOGY_PACKAGES[@]}"
    ensure_nginx
    ensure_node
    cmd_test_unit
    cmd_test_sanitize
    cmd_test_fuzz

    say "installing the end-to-end test dependencies (npm ci)"
    (cd "$ROOT/tests/e2e" && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci failed in tests/e2e"

    say "running the end-to-end tests (phoenix client, headless Chromium)"
    (cd "$ROOT/tests/e2e" && COLLECTIVE_SERVER_BIN="$SERVER_BIN" \
        COLLECTIVE_WITNESS_BIN="$BUILD_DIR/client-qml/collective-witness" \
        node --test --test-concurrency=1 ./*.test.mjs) \
        || fail "end-to-end tests failed"

    say "running the deployment tests (deploy.sh, .deb, Dockerfile, Compose)"
    COLLECTIVE_BUILD_DIR="$BUILD_DIR" bash "$ROOT/tests/deploy/run.sh" || fail "deployment tests failed"

    # A smoke check that the benchmark works (everyone joins, every tick
    # arrives), not a measure of speed.
    say "running the benchmark's small profile"
    cmd_bench || fail "the benchmark's small profile failed"
    say "all tests passed"
}

# Builds a Release server and collective-loadgen in build/bench, apart from
# the development build so that build keeps its own build type, then runs
# bench/run.sh: the small profile, or every target's figures with --full.
cmd_bench() {
    local argument
    for argument in "$@"; do
        case "$argument" in
            -h | --help)
                bash "$ROOT/bench/run.sh" --help
                return 0
                ;;
            --full | --compare | --sizes=* | --tick-ms=* | --output-dir=* | --hold | --storm | --hold-witnesses=* \
                | --hold-seconds=* | --poll-ms=*) ;;
            *) fail "unknown bench option '$argument'; see ./deploy.sh bench --help" ;;
        esac
    done

    ensure_packages "${BUILD_PACKAGES[@]}"
    ensure_node
    local bench_dir="${COLLECTIVE_BENCH_BUILD_DIR:-$ROOT/build/bench}"
    say "building the benchmark in $(shown_path "$bench_dir") (Release)"
    cmake -S "$ROOT" -B "$bench_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCOLLECTIVE_BUILD_KIOSK=OFF \
        -DCOLLECTIVE_BUILD_TESTS=OFF -DCOLLECTIVE_BUILD_BENCH=ON >/dev/null \
        || fail "CMake configuration failed; see the output above"
    cmake --build "$bench_dir" --target collective-server collective-loadgen -- -j"$BUILD_JOBS" \
        || fail "the build failed; see the compiler output above"
    COLLECTIVE_BENCH_BUILD_DIR="$bench_dir" bash "$ROOT/bench/run.sh" "$@"
}

# --- help ------------------------------------------------------------------

cmd_help() {
    cat <<'EOF'
Usage: ./deploy.sh COMMAND [OPTIONS]

Development (state under var/):
  dev:start [--redis]  Install missing Debian packages, build, and serve on :4000 (PORT) with the embedded
                       store; --redis also starts redis-server on 127.0.0.1:6399 and sets REDIS_URL to it
  dev:stop             Stop the development server and the development Redis
  status               Show what runs: the development server (readiness, state), its Redis, the topology,
                       the production stack
  redis [ARGS]         Open redis-cli on the development Redis, else on the topology's or the production
                       stack's Redis Cluster
  cleanup [--all]      Stop everything dev:start started and remove var/run; --all also removes var/data,
                       var/redis and var/log

Several nodes on this machine (deploy/topology.sh, state under var/topology/):
  topology:start       Install missing Debian packages, build, and start a Redis Cluster of six redis-server
                       processes (ports 7101-7106), three server nodes sharing it (4101-4103) and nginx in
                       front of them on http://localhost:4100; the TOPOLOGY_* variables change these
  topology:stop        Stop everything topology:start started; the Redis data is kept

Production (Docker Compose, packaging/docker-compose.yml; needs a running Docker engine):
  prod:build           Build the collective-server image; the unit tests run inside the build
  prod:start           Start the stack and wait until it is healthy; on failure take it down again
  prod:stop            Stop and remove the stack's containers; volumes are kept
  prod:restart         prod:stop, then prod:start
  prod:shell [CMD]     Run CMD (default bash) in a running app container

Other:
  secret               Print a fresh random key: 64 bytes from /dev/urandom, base64 (88 characters)
  test                 Install what the tests need, build, and run every test suite
  test:unit            Build and run the Qt Test suites only (the Dockerfile runs this)
  test:sanitize        Build and run the Qt Test suites under ASan and UBSan (preset asan)
  test:fuzz            Build the libFuzzer targets and run each for COLLECTIVE_FUZZ_SECONDS (15)
  bench [--full]       Build a Release server in build/bench and benchmark it against a Node.js ws server:
                       500 witnesses each and a check (about 30 s), or with --full every figure of the
                       targets (about 35 minutes): --compare (18 000 to 50 000 on one process), --storm and
                       --hold (100 000 on several processes), also one at a time (see bench/run.sh --help);
                       results in build/bench-results/, method in BENCHMARKS.md
  help                 Show this list
EOF
}

main() {
    local command="${1:-help}"
    [ $# -gt 0 ] && shift
    case "$command" in
        dev:start) cmd_dev_start "$@" ;;
        dev:stop) cmd_dev_stop "$@" ;;
        topology:start) cmd_topology_start "$@" ;;
        topology:stop) cmd_topology_stop "$@" ;;
        prod:build) cmd_prod_build "$@" ;;
        prod:start) cmd_prod_start "$@" ;;
        prod:stop) cmd_prod_stop "$@" ;;
        prod:restart) cmd_prod_restart "$@" ;;
        prod:shell) cmd_prod_shell "$@" ;;
        status) cmd_status "$@" ;;
        redis) cmd_redis "$@" ;;
        secret) cmd_secret "$@" ;;
        cleanup) cmd_cleanup "$@" ;;
        test) cmd_test "$@" ;;
        test:unit) cmd_test_unit "$@" ;;
        test:sanitize) cmd_test_sanitize "$@" ;;
        test:fuzz) cmd_test_fuzz "$@" ;;
        bench) cmd_bench "$@" ;;
        help | -h | --help) cmd_help ;;
        *)
            cmd_help >&2
            fail "unknown command '$command'"
            ;;
    esac
}

main "$@"
