# shellcheck shell=bash
# Checks of packaging/Dockerfile and packaging/docker-compose.yml, sourced by
# run.sh. Without a Docker engine nothing can be built or started, so these
# read the files: the Dockerfile's stages and the Compose model.

DOCKERFILE="$ROOT/packaging/Dockerfile"
COMPOSE_FILE="$ROOT/packaging/docker-compose.yml"

# Prints the lines of the Dockerfile stage named $1, from its FROM line to the
# line before the next FROM.
dockerfile_stage() {
    awk -v stage="$1" '
        toupper($1) == "FROM" { inside = (tolower($NF) == stage && toupper($(NF - 1)) == "AS") }
        inside { print }
    ' "$DOCKERFILE"
}

# Prints the Debian packages that the apt-get install of stage $1 names, one
# a line, with continuation lines joined.
dockerfile_apt_packages() {
    dockerfile_stage "$1" | sed -e ':join' -e '/\\$/{N;s/\\\n//;b join' -e '}' \
        | grep 'apt-get install' \
        | sed -e 's/.*apt-get install//' -e 's/&&.*//' \
        | tr ' ' '\n' | grep -v '^-' | grep -v '^$'
}

# Prints the members of the bash array $1 as deploy.sh defines it.
deploy_sh_array() {
    bash -c "$(sed -n "/^$1=(/,/)/p" "$DEPLOY")"'; printf "%s\n" "${'"$1"'[@]}"'
}

test_dockerfile_build_stage_runs_ci_unit_tests() {
    local build_stage
    build_stage="$(dockerfile_stage build)"
    [ -n "$build_stage" ] || fail_test "the Dockerfile has no stage named build"
    check_contains "$build_stage" "FROM debian:12 AS build" "build stage base image"
    grep -qx 'RUN ./deploy.sh test:unit' <<<"$build_stage" \
        || fail_test "the build stage does not run ./deploy.sh test:unit"
    # The build stage installs no Qt Quick packages, so it must not build the kiosk.
    grep -q 'COLLECTIVE_BUILD_KIOSK=OFF' <<<"$build_stage" \
        || fail_test "the build stage does not set COLLECTIVE_BUILD_KIOSK=OFF"

    # CI runs .ci/run, which runs ./deploy.sh test, whose first step is test:unit.
    grep -q 'exec ./deploy.sh test$' "$ROOT/.ci/run" || fail_test ".ci/run does not run ./deploy.sh test"
    sed -n '/^cmd_test() {/,/^}/p' "$DEPLOY" | grep -q '^    cmd_test_unit$' \
        || fail_test "deploy.sh test does not call test:unit"
}

test_dockerfile_build_packages_match_deploy_sh() {
    local expected actual
    expected="$( (deploy_sh_array BUILD_PACKAGES; deploy_sh_array UNIT_TEST_PACKAGES) | sort)"
    actual="$(dockerfile_apt_packages build | sort)"
    [ -n "$expected" ] || fail_test "could not read BUILD_PACKAGES from deploy.sh"
    check_equal "$expected" "$actual" "build stage packages versus deploy.sh"
}

test_dockerfile_runtime_stage_is_slim_and_unprivileged() {
    local runtime packages package
    runtime="$(dockerfile_stage runtime)"
    [ -n "$runtime" ] || fail_test "the Dockerfile has no stage named runtime"
    check_contains "$runtime" "FROM debian:12-slim AS runtime" "runtime base image"

    packages="$(dockerfile_apt_packages runtime)"
    for package in libqt6core6 libqt6network6 libqt6websockets6 libqt6httpserver6 libhiredis0.14 \
        ca-certificates curl; do
        grep -qx "$package" <<<"$packages" || fail_test "the runtime stage does not install $package"
    done
    ! grep -q -- '-dev$' <<<"$packages" || fail_test "the runtime stage installs a -dev package"

    grep -q '^USER ' <<<"$runtime" || fail_test "the runtime stage sets no USER"
    ! grep -qE '^USER (root|0)(:|$)' <<<"$runtime" || fail_test "the runtime stage runs as root"
    grep -q '^HEALTHCHECK' <<<"$runtime" || fail_test "the runtime stage has no HEALTHCHECK"
    check_contains "$(sed -n '/^HEALTHCHECK/,/[^\\]$/p' <<<"$runtime")" '/health/live' "HEALTHCHECK command"
    check_contains "$runtime" 'ENTRYPOINT ["/usr/bin/collective-server"]' "runtime ENTRYPOINT"
    check_contains "$runtime" 'VOLUME ["/var/lib/collective"]' "data volume"
    check_contains "$runtime" 'COLLECTIVE_DATA_DIR=/var/lib/collective' "data folder setting"
}

test_dockerignore_keeps_build_outputs_out() {
    local ignore="$ROOT/.dockerignore" entry
    [ -f "$ignore" ] || fail_test ".dockerignore is missing"
    for entry in .git build var '**/node_modules'; do
        grep -qxF "$entry" "$ignore" || fail_test ".dockerignore does not exclude $entry"
    done
}

test_compose_file_defines_the_stack() {
    local model="$COMPOSE_FILE"
    # With the Compose plugin, check the model Compose itself resolves.
    if command -v docker >/dev/null && docker compose version >/dev/null 2>&1; then
        model="$(mktemp)"
        docker compose -f "$COMPOSE_FILE" --profile dev config --format json >"$model" \
            || fail_test "docker compose config rejected the file"
    fi
    /usr/bin/python3 "$DEPLOY_TESTS_DIR/check_compose.py" "$model" || fail_test "see the lines above"
    [ "$model" = "$COMPOSE_FILE" ] || rm -f "$model"
}

# Renders collective.conf.template as the nginx image's entrypoint does, with
# the nginx service's environment from the Compose file, and has Debian's
# nginx check it together with packaging/nginx/nginx.conf. The service name
# app is replaced by 127.0.0.1, because nginx -t resolves upstream host names
# and this machine has no service named app.
test_compose_nginx_config_passes_nginx_test() {
    command -v "${NGINX_BIN:-/usr/sbin/nginx}" >/dev/null \
        || fail_test "nginx is not installed: ./deploy.sh test installs it (Debian package nginx)"
    CONFIG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/collective-nginx-test.XXXXXX")"
    trap 'rm -rf "$CONFIG_DIR"' EXIT

    /usr/bin/python3 - "$COMPOSE_FILE" "$ROOT/packaging/nginx/collective.conf.template" \
        "$CONFIG_DIR/collective.conf" <<'PYTHON' || fail_test "see the lines above"
import re
import sys

import yaml

compose_path, template_path, output_path = sys.argv[1:]
with open(compose_path, encoding="utf-8") as stream:
    nginx = yaml.safe_load(stream)["services"]["nginx"]
environment = {name: str(value) for name, value in (nginx.get("environment") or {}).items()}
allowed = re.compile(environment.get("NGINX_ENVSUBST_FILTER", ""))

with open(template_path, encoding="utf-8") as stream:
    text = stream.read()
# envsubst replaces both $NAME and ${NAME} for each name it is given.
for name, value in environment.items():
    if allowed.search(name):
        text = text.replace("${%s}" % name, value)
        text = re.sub(r"\$%s\b" % name, lambda _match: value, text)
text = re.sub(r"\bserver app:", "server 127.0.0.1:", text)
left = re.findall(r"\$\{COLLECTIVE_[A-Z_]*\}", text)
if left:
    sys.exit("    the rendered template still contains %s" % ", ".join(left))
with open(output_path, "w", encoding="utf-8") as stream:
    stream.write(text)
PYTHON

    # The temporary folders go to the test's folder too: nginx -t creates them.
    local kind temp_paths=""
    for kind in client_body proxy fastcgi uwsgi scgi; do
        temp_paths+="\\n    ${kind}_temp_path $CONFIG_DIR/${kind}_temp;"
    done
    sed -e "s#/etc/nginx/conf.d/collective.conf#$CONFIG_DIR/collective.conf#" -e "s#^http {#http {$temp_paths#" \
        "$ROOT/packaging/nginx/nginx.conf" >"$CONFIG_DIR/nginx.conf"
    grep -q "include $CONFIG_DIR/collective.conf;" "$CONFIG_DIR/nginx.conf" \
        || fail_test "packaging/nginx/nginx.conf does not include /etc/nginx/conf.d/collective.conf"

    local output
    output="$("${NGINX_BIN:-/usr/sbin/nginx}" -t -e stderr -p "$CONFIG_DIR" -c "$CONFIG_DIR/nginx.conf" \
        -g "pid $CONFIG_DIR/nginx.pid;" 2>&1)" || fail_test "nginx -t rejected the configuration: $output"
}
