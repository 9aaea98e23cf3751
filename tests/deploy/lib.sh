# shellcheck shell=bash
# Helpers for the deployment tests, sourced by run.sh.
#
# A test is a shell function named test_<name>. run.sh calls each one in its
# own subshell with `set -e`, so the first failing check ends that test only,
# and an EXIT trap set inside a test cleans up after it whatever happened.
# Such a trap starts with `set +e`, because a failing cleanup step would
# otherwise turn a passed test into a failed one.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export DEPLOY="$ROOT/deploy.sh"

# Fails the current test with a message.
fail_test() {
    printf '    FAIL: %s\n' "$*" >&2
    exit 1
}

# Ends the current test as skipped, with the reason.
skip_test() {
    printf '    SKIP: %s\n' "$*" >&2
    exit 77
}

check_equal() {
    local expected="$1" actual="$2" what="$3"
    [ "$expected" = "$actual" ] || fail_test "$what: expected '$expected', got '$actual'"
}

check_contains() {
    local haystack="$1" needle="$2" what="$3"
    case "$haystack" in
        *"$needle"*) ;;
        *) fail_test "$what: expected to contain '$needle', got: $haystack" ;;
    esac
}

check_not_contains() {
    local haystack="$1" needle="$2" what="$3"
    case "$haystack" in
        *"$needle"*) fail_test "$what: expected not to contain '$needle', got: $haystack" ;;
        *) ;;
    esac
}

check_file_missing() {
    [ ! -e "$1" ] || fail_test "$1 still exists"
}

# Succeeds when something accepts TCP connections on 127.0.0.1:$1.
port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Prints a loopback port from [$1, $2) that nothing listens on, starting at a
# random offset so that concurrent runs seldom pick the same one.
free_port() {
    local low="$1" high="$2" span port tries
    span=$((high - low))
    port=$((low + RANDOM % span))
    for ((tries = 0; tries < span; tries++)); do
        if ! port_in_use "$port"; then
            printf '%s' "$port"
            return 0
        fi
        port=$((low + (port - low + 1) % span))
    done
    fail_test "no free port between $low and $high"
}

# Succeeds when the process with pid $1 exists.
process_alive() {
    kill -0 "$1" 2>/dev/null
}

# Waits up to $2 seconds (default 10) for $1/health/ready to return 200.
wait_for_ready() {
    local url="$1" seconds="${2:-10}" tries
    for ((tries = seconds * 10; tries > 0; tries--)); do
        curl -fsS -o /dev/null "$url/health/ready" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
