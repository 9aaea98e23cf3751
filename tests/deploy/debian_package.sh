# shellcheck shell=bash
# Tests of the Debian package, sourced by run.sh: cpack builds it from a
# Release build, apt-get installs it on this machine, the installed binary
# serves, and apt-get removes and purges it again.

PACKAGE_BUILD_DIR="${COLLECTIVE_PACKAGE_BUILD_DIR:-$ROOT/build/package}"

# Configures and builds the Release build without tests, with the kiosk when
# client-qml/ exists, and runs cpack. A second call only repackages.
build_packages() {
    local jobs="${COLLECTIVE_BUILD_JOBS:-$(nproc)}" kiosk=OFF output
    [ -d "$ROOT/client-qml" ] && kiosk=ON
    cmake -S "$ROOT" -B "$PACKAGE_BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DCOLLECTIVE_BUILD_TESTS=OFF -DCOLLECTIVE_BUILD_KIOSK="$kiosk" >/dev/null \
        || fail_test "CMake configuration of the Release build failed"
    cmake --build "$PACKAGE_BUILD_DIR" -- -j"$jobs" >/dev/null \
        || fail_test "the Release build failed: cmake --build $PACKAGE_BUILD_DIR shows why"
    rm -f "$PACKAGE_BUILD_DIR"/packages/*.deb
    output="$(cd "$PACKAGE_BUILD_DIR" && cpack -G DEB 2>&1)" || fail_test "cpack -G DEB failed: $output"
}

# Prints the path of the package named $1 that build_packages made:
# <name>_<version>_<architecture>.deb.
package_path() {
    local version arch package
    version="$(sed -n 's/^project(TheCollective VERSION \([0-9.]*\).*/\1/p' "$ROOT/CMakeLists.txt")"
    arch="$(dpkg --print-architecture)"
    package="$PACKAGE_BUILD_DIR/packages/${1}_${version}_${arch}.deb"
    [ -f "$package" ] || fail_test "cpack made no $(basename "$package"): $(ls "$PACKAGE_BUILD_DIR/packages")"
    printf '%s' "$package"
}

test_deb_server_contents_and_depends() {
    local package contents depends path library
    build_packages
    package="$(package_path collective-server)"

    contents="$(dpkg-deb --contents "$package")"
    for path in ./usr/bin/collective-server ./lib/systemd/system/collective-server.service \
        ./etc/default/collective-server; do
        check_contains "$contents" " $path" "server package contents"
    done
    check_not_contains "$contents" "collective-witness" "server package contents"

    # The server speaks WebSocket itself; libqt6websockets6 comes in only as a
    # dependency of libqt6httpserver6, so it is not among the server's own.
    depends="$(dpkg-deb --field "$package" Depends)"
    for library in libqt6core6 libqt6network6 libqt6httpserver6; do
        check_contains "$depends" "$library" "server Depends"
    done
    check_not_contains "$depends" "libqt6quick6" "server Depends"
    check_equal collective-server "$(dpkg-deb --field "$package" Package)" "package name"
    check_contains "$(dpkg-deb --ctrl-tarfile "$package" | tar -xOf - ./conffiles)" \
        /etc/default/collective-server "conffiles"
}

test_deb_kiosk_contents_and_depends() {
    [ -d "$ROOT/client-qml" ] || skip_test "there is no client-qml/ to package"
    local package depends module
    build_packages
    package="$(package_path collective-witness)"

    check_contains "$(dpkg-deb --contents "$package")" " ./usr/bin/collective-witness" "kiosk package contents"
    depends="$(dpkg-deb --field "$package" Depends)"
    for module in libqt6quick6 libqt6websockets6 qml6-module-qtquick qml6-module-qtquick-window; do
        check_contains "$depends" "$module" "kiosk Depends"
    done
}

test_deb_installs_serves_and_removes() {
    [ "$(id -u)" -eq 0 ] || skip_test "installing a package needs root"
    if dpkg-query -W -f='${Status}' collective-server 2>/dev/null | grep -q 'ok installed'; then
        skip_test "collective-server is already installed here; the test would replace and remove it"
    fi
    local package port output
    build_packages
    package="$(package_path collective-server)"
    # Not local: the EXIT trap runs after this function has returned.
    DATA_DIR="$(mktemp -d "${TMPDIR:-/tmp}/collective-deb-test.XXXXXX")"
    SERVER_PID=""
    trap 'set +e; [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null
        apt-get purge -y -qq collective-server >/dev/null 2>&1
        rm -rf "$DATA_DIR"' EXIT

    output="$(DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" 2>&1)" \
        || fail_test "apt-get install $package failed: $output"
    [ -x /usr/bin/collective-server ] || fail_test "/usr/bin/collective-server is not installed"

    # systemd is not PID 1 in every test machine, but systemd-analyze checks
    # the unit file offline: directives, paths and the ExecStart binary.
    if command -v systemd-analyze >/dev/null; then
        local verify
        verify="$(systemd-analyze verify /lib/systemd/system/collective-server.service 2>&1)" \
            || fail_test "systemd-analyze verify failed: $verify"
        check_not_contains "$verify" "collective-server" "systemd-analyze verify output"
    else
        printf '    note: systemd-analyze is missing; the unit file was not verified\n'
    fi

    # Start it as the unit would, with the installed settings file, but on a
    # free loopback port and a private data folder.
    port="$(free_port 4700 4800)"
    (
        set -a
        # shellcheck source=/dev/null
        . /etc/default/collective-server
        set +a
        PORT="$port" COLLECTIVE_BIND=127.0.0.1 COLLECTIVE_DATA_DIR="$DATA_DIR" \
            exec /usr/bin/collective-server >"$DATA_DIR/server.log" 2>&1
    ) &
    SERVER_PID=$!
    wait_for_ready "http://127.0.0.1:$port" 10 \
        || fail_test "the installed server did not answer /health/ready: $(tail -n 5 "$DATA_DIR/server.log")"
    kill -TERM "$SERVER_PID"
    local status=0
    wait "$SERVER_PID" || status=$?
    check_equal 0 "$status" "exit code of the installed server after SIGTERM"
    [ -f "$DATA_DIR/collective-state.json" ] || fail_test "the server stored no state in COLLECTIVE_DATA_DIR"

    apt-get remove -y -qq collective-server >/dev/null || fail_test "apt-get remove collective-server failed"
    check_file_missing /usr/bin/collective-server
    check_file_missing /lib/systemd/system/collective-server.service
    # remove keeps the conffile; purge deletes it.
    [ -f /etc/default/collective-server ] || fail_test "apt-get remove deleted the conffile"
    apt-get purge -y -qq collective-server >/dev/null || fail_test "apt-get purge collective-server failed"
    check_file_missing /etc/default/collective-server
    if dpkg-query -W -f='${Status}' collective-server 2>/dev/null | grep -qE 'ok (installed|config-files)'; then
        fail_test "dpkg still lists collective-server after purge"
    fi
}
