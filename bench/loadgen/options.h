// Command-line options of collective-loadgen.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace loadgen {

struct Options {
    // Target server; only loopback addresses (127.0.0.0/8) are accepted.
    in_addr host{};
    std::string hostText = "127.0.0.1";
    std::uint16_t port = 4000;
    std::string path = "/socket/websocket?vsn=2.0.0";

    int sockets = 100;
    // Source addresses for bind() before connect(), used round robin. Empty
    // lets the kernel choose.
    std::vector<in_addr> sources;

    // Connections opened but not yet welcomed at any one time.
    int maxPending = 256;
    // Seconds from the start until a socket that is not welcomed is given up.
    int joinTimeoutSeconds = 60;
    int heartbeatSeconds = 30;
    // Seconds from the start after which the process stops even without a
    // signal, so a lost driver cannot leave load running.
    int maxRunSeconds = 900;
    // Once every socket is welcomed or given up, read in polls this many
    // milliseconds apart instead of sleeping until a frame arrives. 0 keeps
    // sleeping in epoll_wait. See pollingReads() in generator.cpp.
    int pollMs = 0;

    std::string outputPath;
    std::string name = "loadgen";
};

// Parses argv. Returns nullopt with *error set on an invalid or missing
// option, and with *error empty when --help was given.
std::optional<Options> parseOptions(int argc, char **argv, std::string *error);

std::string usageText();

} // namespace loadgen
