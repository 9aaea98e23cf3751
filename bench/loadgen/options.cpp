#include "options.h"

#include <arpa/inet.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace loadgen {

namespace {

bool isLoopback(in_addr address)
{
    return (ntohl(address.s_addr) >> 24) == 127;
}

bool parseInteger(const std::string &text, long minimum, long maximum, long *value)
{
    if (text.empty())
        return false;
    char *end = nullptr;
    errno = 0;
    const long parsed = std::strtol(text.c_str(), &end, 10);
    if (errno != 0 || *end != '\0' || parsed < minimum || parsed > maximum)
        return false;
    *value = parsed;
    return true;
}

bool parseLoopbackAddress(const std::string &text, in_addr *address)
{
    return ::inet_pton(AF_INET, text.c_str(), address) == 1 && isLoopback(*address);
}

// Parses "127.0.0.2-127.0.0.41" or "127.0.0.2,127.0.0.3" (or a mix).
bool parseSources(const std::string &text, std::vector<in_addr> *sources)
{
    std::size_t start = 0;
    while (start <= text.size()) {
        const std::size_t comma = text.find(',', start);
        const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        const std::size_t dash = item.find('-');
        in_addr first{};
        in_addr last{};
        if (dash == std::string::npos) {
            if (!parseLoopbackAddress(item, &first))
                return false;
            last = first;
        } else if (!parseLoopbackAddress(item.substr(0, dash), &first)
                   || !parseLoopbackAddress(item.substr(dash + 1), &last)) {
            return false;
        }
        const std::uint32_t from = ntohl(first.s_addr);
        const std::uint32_t to = ntohl(last.s_addr);
        if (to < from || to - from >= 65536)
            return false;
        for (std::uint32_t value = from; value <= to; ++value)
            sources->push_back(in_addr{htonl(value)});
        if (comma == std::string::npos)
            break;
        start = comma + 1;
    }
    return !sources->empty();
}

} // namespace

std::string usageText()
{
    return "Usage: collective-loadgen --port=PORT --output=FILE [options]\n"
           "\n"
           "Opens WebSockets to a Phoenix Channels V2 server on loopback, joins each to\n"
           "collective:lobby, heartbeats, and records when every tick broadcast arrives.\n"
           "Runs until SIGTERM, SIGINT or SIGUSR1, or --max-run seconds, then writes JSON\n"
           "to --output. Prints one JSON line to standard output once every socket is\n"
           "welcomed or given up.\n"
           "\n"
           "  --host=ADDRESS       server address in 127.0.0.0/8 (default 127.0.0.1)\n"
           "  --port=PORT          server port (default 4000)\n"
           "  --path=PATH          request path (default /socket/websocket?vsn=2.0.0)\n"
           "  --sockets=N          WebSockets to open (default 100)\n"
           "  --sources=LIST       source addresses in 127.0.0.0/8 for bind(), used round\n"
           "                       robin: ranges and lists such as 127.0.0.2-127.0.0.9,127.0.1.1\n"
           "                       (default: the kernel chooses)\n"
           "  --max-pending=N      connections in progress at once (default 256)\n"
           "  --join-timeout=S     seconds from the start to welcome every socket (default 60)\n"
           "  --heartbeat=S        seconds between heartbeats of one socket (default 30)\n"
           "  --max-run=S          seconds after which the process stops by itself (default 900)\n"
           "  --poll-ms=MS         once every socket is welcomed, read every MS milliseconds\n"
           "                       instead of sleeping until a frame arrives (default 0: sleep)\n"
           "  --output=FILE        where the JSON report goes (required)\n"
           "  --name=TEXT          name of this process in the report (default loadgen)\n";
}

std::optional<Options> parseOptions(int argc, char **argv, std::string *error)
{
    Options options;
    ::inet_pton(AF_INET, options.hostText.c_str(), &options.host);

    for (int index = 1; index < argc; ++index) {
        const std::string argument = argv[index];
        if (argument == "--help" || argument == "-h") {
            error->clear();
            return std::nullopt;
        }
        const std::size_t equals = argument.find('=');
        if (argument.rfind("--", 0) != 0 || equals == std::string::npos) {
            *error = "invalid argument '" + argument + "': options have the form --name=value";
            return std::nullopt;
        }
        const std::string name = argument.substr(2, equals - 2);
        const std::string value = argument.substr(equals + 1);
        long number = 0;

        if (name == "host") {
            if (!parseLoopbackAddress(value, &options.host)) {
                *error = "invalid --host '" + value + "': expected an IPv4 address in 127.0.0.0/8";
                return std::nullopt;
            }
            options.hostText = value;
        } else if (name == "port") {
            if (!parseInteger(value, 1, 65535, &number)) {
                *error = "invalid --port '" + value + "': expected 1 to 65535";
                return std::nullopt;
            }
            options.port = std::uint16_t(number);
        } else if (name == "path") {
            if (value.empty() || value[0] != '/' || value.find_first_of(" \r\n") != std::string::npos) {
                *error = "invalid --path '" + value + "': expected a path starting with / and no spaces";
                return std::nullopt;
            }
            options.path = value;
        } else if (name == "sockets") {
            if (!parseInteger(value, 1, 1000000, &number)) {
                *error = "invalid --sockets '" + value + "': expected 1 to 1000000";
                return std::nullopt;
            }
            options.sockets = int(number);
        } else if (name == "sources") {
            options.sources.clear();
            if (!parseSources(value, &options.sources)) {
                *error = "invalid --sources '" + value
                        + "': expected addresses or ranges in 127.0.0.0/8, such as 127.0.0.2-127.0.0.9";
                return std::nullopt;
            }
        } else if (name == "max-pending") {
            if (!parseInteger(value, 1, 100000, &number)) {
                *error = "invalid --max-pending '" + value + "': expected 1 to 100000";
                return std::nullopt;
            }
            options.maxPending = int(number);
        } else if (name == "join-timeout") {
            if (!parseInteger(value, 1, 3600, &number)) {
                *error = "invalid --join-timeout '" + value + "': expected 1 to 3600 seconds";
                return std::nullopt;
            }
            options.joinTimeoutSeconds = int(number);
        } else if (name == "heartbeat") {
            if (!parseInteger(value, 1, 3600, &number)) {
                *error = "invalid --heartbeat '" + value + "': expected 1 to 3600 seconds";
                return std::nullopt;
            }
            options.heartbeatSeconds = int(number);
        } else if (name == "max-run") {
            if (!parseInteger(value, 1, 86400, &number)) {
                *error = "invalid --max-run '" + value + "': expected 1 to 86400 seconds";
                return std::nullopt;
            }
            options.maxRunSeconds = int(number);
        } else if (name == "poll-ms") {
            if (!parseInteger(value, 0, 100, &number)) {
                *error = "invalid --poll-ms '" + value + "': expected 0 to 100 milliseconds";
                return std::nullopt;
            }
            options.pollMs = int(number);
        } else if (name == "output") {
            options.outputPath = value;
        } else if (name == "name") {
            options.name = value;
        } else {
            *error = "unknown option '--" + name + "'; see --help";
            return std::nullopt;
        }
    }

    if (options.outputPath.empty()) {
        *error = "missing --output=FILE: the report needs a file";
        return std::nullopt;
    }
    return options;
}

} // namespace loadgen
