#!/usr/bin/env bash
# Runs the deployment tests: deploy.sh's commands, the Debian package, the
# Dockerfile and Compose file as far as a machine without a Docker engine can
# check them, the Artillery scenario, and deploy/topology.sh's Redis Cluster,
# server nodes and nginx on loopback. ./deploy.sh test runs this after the other suites.
#
#   bash tests/deploy/run.sh               every test
#   bash tests/deploy/run.sh secret deb    only tests whose name contains a word
#
# Environment:
#   COLLECTIVE_BUILD_DIR          the build deploy.sh dev:start uses (default build/dev)
#   COLLECTIVE_PACKAGE_BUILD_DIR  the Release build cpack packages (default build/package)
#   COLLECTIVE_SERVER_BIN         the server deploy/topology.sh runs (default: the one in COLLECTIVE_BUILD_DIR)
#
# The .deb test installs the package on this machine with apt-get and purges
# it afterwards, so it needs root. It is skipped where collective-server is
# already installed, to leave that installation alone.
set -uo pipefail

DEPLOY_TESTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tests/deploy/lib.sh
source "$DEPLOY_TESTS_DIR/lib.sh"
# shellcheck source=tests/deploy/deploy_commands.sh
source "$DEPLOY_TESTS_DIR/deploy_commands.sh"
# shellcheck source=tests/deploy/containers.sh
source "$DEPLOY_TESTS_DIR/containers.sh"
# shellcheck source=tests/deploy/debian_package.sh
source "$DEPLOY_TESTS_DIR/debian_package.sh"
# shellcheck source=tests/deploy/artillery.sh
source "$DEPLOY_TESTS_DIR/artillery.sh"
# shellcheck source=tests/deploy/multi_node.sh
source "$DEPLOY_TESTS_DIR/multi_node.sh"

# Succeeds when test $1 was selected on the command line, or nothing was.
selected() {
    local name="$1" word
    [ "${#FILTERS[@]}" -eq 0 ] && return 0
    for word in "${FILTERS[@]}"; do
        case "$name" in *"$word"*) return 0 ;; esac
    done
    return 1
}

FILTERS=("$@")
passed=0
failed=0
skipped=0
failures=()

# Every test function, in alphabetical order.
mapfile -t tests < <(declare -F | awk '{print $3}' | grep '^test_')
for test in "${tests[@]}"; do
    selected "$test" || continue
    printf '%s\n' "${test#test_}"
    started=$SECONDS
    ( set -e; "$test" )
    status=$?
    elapsed=$((SECONDS - started))
    case "$status" in
        0)
            passed=$((passed + 1))
            printf '    ok (%ss)\n' "$elapsed"
            ;;
        77)
            skipped=$((skipped + 1))
            ;;
        *)
            failed=$((failed + 1))
            failures+=("${test#test_}")
            printf '    failed (%ss)\n' "$elapsed"
            ;;
    esac
done

if [ "${#failures[@]}" -gt 0 ]; then
    printf 'failed: %s\n' "${failures[*]}"
fi
printf '%s passed, %s failed, %s skipped\n' "$passed" "$failed" "$skipped"
[ "$failed" -eq 0 ]
