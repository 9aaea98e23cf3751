#!/usr/bin/env bash
# deploy.sh: every operator command of The Collective.
#
#   ./deploy.sh dev:start   install what is missing, build, serve on :4000
#   ./deploy.sh test        install what the tests need, build, run every test
#   ./deploy.sh help        list every command
#
# Development state lives under var/ in the checkout: var/data (the embedded
# store), var/log/server.log and var/run/server.pid.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# COLLECTIVE_BUILD_DIR lets several checkouts or builds live side by side.
BUILD_DIR="${COLLECTIVE_BUILD_DIR:-$ROOT/build/dev}"
SERVER_BIN="$BUILD_DIR/server/collective-server"
VAR_DIR="$ROOT/var"
PID_FILE="$VAR_DIR/run/server.pid"
LOG_FILE="$VAR_DIR/log/server.log"
DEV_PORT="${PORT:-4000}"

# Debian 12 packages, by what needs them.
BUILD_PACKAGES=(cmake ninja-build g++ pkg-config curl ca-certificates
    qt6-base-dev qt6-websockets-dev qt6-httpserver-dev libhiredis-dev)
TEST_PACKAGES=(chromium nodejs)

say() { printf '%s\n' "deploy.sh: $*"; }
fail() { printf '%s\n' "deploy.sh: $*" >&2; exit 1; }

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

# Node.js 18 or newer for the end-to-end tests; Debian 12's nodejs is 18.
ensure_node() {
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        ensure_packages nodejs npm
    fi
    local major
    major="$(node -p 'process.versions.node.split(".")[0]')"
    [ "$major" -ge 18 ] || fail "Node.js $major is too old for the tests: install Node.js 18 or newer"
}

build() {
    ensure_packages "${BUILD_PACKAGES[@]}"
    say "building in ${BUILD_DIR#"$ROOT"/}"
    # The same settings as the CMake preset "dev", with a movable build folder.
    cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null \
        || fail "CMake configuration failed; see the output above"
    cmake --build "$BUILD_DIR" -- -j"$(nproc)" || fail "the build failed; see the compiler output above"
}

# --- the development server ------------------------------------------------

server_pid() {
    [ -f "$PID_FILE" ] || return 1
    local pid
    pid="$(cat "$PID_FILE")"
    kill -0 "$pid" 2>/dev/null || return 1
    printf '%s' "$pid"
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
    if pid="$(server_pid)"; then
        say "the development server is already running (pid $pid) on http://localhost:$DEV_PORT"
        return 0
    fi
    build
    mkdir -p "$VAR_DIR/data" "$VAR_DIR/log" "$VAR_DIR/run"

    say "starting collective-server on port $DEV_PORT (log: var/log/server.log)"
    PORT="$DEV_PORT" COLLECTIVE_DATA_DIR="$VAR_DIR/data" COLLECTIVE_ENV="${COLLECTIVE_ENV:-dev}" \
        nohup "$SERVER_BIN" >>"$LOG_FILE" 2>&1 </dev/null &
    echo $! >"$PID_FILE"

    if ! wait_until_ready "http://127.0.0.1:$DEV_PORT"; then
        cmd_dev_stop >/dev/null 2>&1 || true
        tail -n 20 "$LOG_FILE" >&2
        fail "the server did not become ready; the last log lines are above"
    fi
    say "The Collective is live: open http://localhost:$DEV_PORT"
}

cmd_dev_stop() {
    local pid
    if ! pid="$(server_pid)"; then
        rm -f "$PID_FILE"
        say "the development server is not running"
        return 0
    fi
    kill -TERM "$pid"
    local tries=100
    while kill -0 "$pid" 2>/dev/null && [ "$tries" -gt 0 ]; do
        sleep 0.1
        tries=$((tries - 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "the server did not stop within 10 s; killing it"
        kill -KILL "$pid"
    fi
    rm -f "$PID_FILE"
    say "the development server stopped"
}

cmd_status() {
    local pid
    if ! pid="$(server_pid)"; then
        say "the development server is not running"
        return 3
    fi
    say "the development server is running (pid $pid) on http://localhost:$DEV_PORT"
    curl -fsS "http://127.0.0.1:$DEV_PORT/health/ready" || true
    echo
    curl -fsS "http://127.0.0.1:$DEV_PORT/metrics/state" || true
    echo
}

# --- tests -----------------------------------------------------------------

cmd_test() {
    ensure_packages "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
    ensure_node
    build

    say "running the Qt Test suites"
    (cd "$BUILD_DIR" && ctest --output-on-failure --timeout 300) || fail "Qt Test suites failed"

    say "installing the end-to-end test dependencies (npm ci)"
    (cd "$ROOT/tests/e2e" && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci failed in tests/e2e"

    say "running the end-to-end tests (phoenix client, headless Chromium)"
    (cd "$ROOT/tests/e2e" && COLLECTIVE_SERVER_BIN="$SERVER_BIN" node --test --test-concurrency=1 ./*.test.mjs) \
        || fail "end-to-end tests failed"
    say "all tests passed"
}

# --- help ------------------------------------------------------------------

cmd_help() {
    cat <<'EOF'
Usage: ./deploy.sh COMMAND

  dev:start   Install missing Debian packages, build, and serve on :4000 (PORT) with the embedded store
  dev:stop    Stop the development server
  status      Show whether the development server runs, its readiness and its state
  test        Install what the tests need, build, and run every test suite
  help        Show this list
EOF
}

main() {
    local command="${1:-help}"
    [ $# -gt 0 ] && shift
    case "$command" in
        dev:start) cmd_dev_start "$@" ;;
        dev:stop) cmd_dev_stop "$@" ;;
        status) cmd_status "$@" ;;
        test) cmd_test "$@" ;;
        help | -h | --help) cmd_help ;;
        *)
            cmd_help >&2
            fail "unknown command '$command'"
            ;;
    esac
}

main "$@"
