# Debian packages of The Collective, built by CPack:
#
#   cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DCOLLECTIVE_BUILD_TESTS=OFF
#   cmake --build build/release
#   (cd build/release && cpack -G DEB)
#
# makes collective-server_<version>_<arch>.deb and, when the kiosk is built
# (COLLECTIVE_BUILD_KIOSK=ON), collective-witness_<version>_<arch>.deb.
#
# This file is included before the module folders. It makes "server" the
# install component of every install() that names none, which is how the
# existing install(TARGETS collective-server) lands in the server package.
# Whatever the kiosk installs must name COMPONENT kiosk, or it lands in the
# server package too. CPack itself is set up after the last folder, because
# it reads the list of install components when it is included.

set(CMAKE_INSTALL_DEFAULT_COMPONENT_NAME server)

set(COLLECTIVE_PACKAGE_CONTACT "The Collective maintainers <maintainers@collective.invalid>"
    CACHE STRING "Maintainer field of the Debian packages (name <address>)")

# The systemd unit and its environment file. Both paths are absolute because
# Debian puts them there whatever the prefix: units in /lib/systemd/system
# (Debian 12 still ships its own units there) and defaults in /etc/default.
# EXCLUDE_FROM_ALL keeps them out of a plain `cmake --install`, which would
# otherwise write to /lib and /etc; cpack and `--component server` install them.
install(FILES ${PROJECT_SOURCE_DIR}/packaging/systemd/collective-server.service
    DESTINATION /lib/systemd/system COMPONENT server EXCLUDE_FROM_ALL)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/systemd/collective-server.default
    DESTINATION /etc/default RENAME collective-server COMPONENT server EXCLUDE_FROM_ALL)

# Sets the CPack variables and includes CPack. It runs once, at the end of the
# top-level CMakeLists.txt, so every install() of every folder is known.
function(collective_configure_packaging)
    set(CPACK_PACKAGE_NAME collective)
    set(CPACK_PACKAGE_VENDOR "The Collective")
    set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
    set(CPACK_PACKAGE_CONTACT "${COLLECTIVE_PACKAGE_CONTACT}")
    set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/packages)
    set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
    set(CPACK_STRIP_FILES ON)

    set(CPACK_GENERATOR DEB)
    set(CPACK_DEB_COMPONENT_INSTALL ON)
    # <name>_<version>_<architecture>.deb, as dpkg-name would call it.
    set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
    set(CPACK_DEBIAN_PACKAGE_SECTION net)
    set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
    # dpkg-shlibdeps (package dpkg-dev) turns the linked libraries into
    # versioned Depends, so the list follows whatever the binaries link.
    set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
    set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

    # The server package.
    set(components server)
    set(CPACK_DEBIAN_SERVER_PACKAGE_NAME collective-server)
    # The first line is the synopsis, the rest the extended description.
    string(CONCAT CPACK_DEBIAN_SERVER_DESCRIPTION
        "The Collective server: one shared presence counter\n"
        "collective-server serves the web page, the Phoenix Channels WebSocket "
        "and the health and metrics endpoints on one port. The package installs "
        "a sandboxed systemd unit, collective-server.service, that is not enabled. "
        "Its settings are read from /etc/default/collective-server.")
    set(CPACK_DEBIAN_SERVER_PACKAGE_SUGGESTS "redis-server")
    # CPack copies control files under their own names, and dpkg expects
    # exactly conffiles, postinst, prerm and postrm, the scripts executable.
    configure_file(${PROJECT_SOURCE_DIR}/packaging/deb/server.conffiles
        ${PROJECT_BINARY_DIR}/packaging/deb/server/conffiles COPYONLY)
    foreach(script postinst prerm postrm)
        configure_file(${PROJECT_SOURCE_DIR}/packaging/deb/server.${script}
            ${PROJECT_BINARY_DIR}/packaging/deb/server/${script} COPYONLY
            FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                             WORLD_READ WORLD_EXECUTE)
    endforeach()
    set(CPACK_DEBIAN_SERVER_PACKAGE_CONTROL_EXTRA
        ${PROJECT_BINARY_DIR}/packaging/deb/server/conffiles
        ${PROJECT_BINARY_DIR}/packaging/deb/server/postinst
        ${PROJECT_BINARY_DIR}/packaging/deb/server/prerm
        ${PROJECT_BINARY_DIR}/packaging/deb/server/postrm)

    # The kiosk package, only when the kiosk target is part of this build.
    if(TARGET collective-witness)
        list(APPEND components kiosk)
        get_cmake_property(declared_components COMPONENTS)
        if(NOT kiosk IN_LIST declared_components)
            install(TARGETS collective-witness RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT kiosk)
        endif()
        set(CPACK_DEBIAN_KIOSK_PACKAGE_NAME collective-witness)
        string(CONCAT CPACK_DEBIAN_KIOSK_DESCRIPTION
            "The Collective kiosk: fullscreen witness client\n"
            "collective-witness is the fullscreen QML client for a gallery kiosk. "
            "It connects to a collective-server and counts as one witness.")
        # dpkg-shlibdeps finds the linked Qt libraries; the QML modules are
        # loaded at run time, so they are listed by hand.
        set(kiosk_depends
            libqt6quick6 libqt6websockets6 qml6-module-qtquick qml6-module-qtquick-window
            qml6-module-qtqml-workerscript qt6-qpa-plugins)
        list(JOIN kiosk_depends ", " CPACK_DEBIAN_KIOSK_PACKAGE_DEPENDS)
    endif()
    set(CPACK_COMPONENTS_ALL ${components})

    include(CPack)
endfunction()

cmake_language(DEFER DIRECTORY ${PROJECT_SOURCE_DIR} CALL collective_configure_packaging)
