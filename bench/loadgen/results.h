// Measurements of one load generator process, and its JSON report.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace loadgen {

struct Options;

struct Results {
    // Times are CLOCK_MONOTONIC in microseconds. That clock is shared by
    // every process on the machine, so the driver can merge several reports.
    std::int64_t startedUs = 0;
    std::int64_t settledUs = 0; // every socket welcomed or given up
    std::int64_t stoppedUs = 0;
    std::int64_t firstWelcomeUs = 0;
    std::int64_t lastWelcomeUs = 0;

    int joined = 0;      // sockets that got their welcome
    int openAtStop = 0;  // of those, still open when the process stopped

    // From the start of each socket's connect() to its welcome.
    std::vector<std::int64_t> joinLatencyUs;

    // Sockets given up before their welcome, by cause, such as
    // "connect ECONNREFUSED", "upgrade status 429" or "timeout upgrading".
    std::map<std::string, std::int64_t> failures;
    // Welcomed sockets that closed while the process ran, by cause, such as
    // "close 1000", "eof" or "error ECONNRESET".
    std::map<std::string, std::int64_t> closesAfterJoin;

    std::int64_t heartbeatsSent = 0;
    std::int64_t heartbeatReplies = 0;
    std::int64_t ticksReceived = 0;
    std::int64_t presenceReceived = 0;
    std::int64_t evolutionReceived = 0;
    std::int64_t otherFramesReceived = 0;
    std::int64_t pingsAnswered = 0;

    // Tick number to the receipt time of that tick at each socket.
    std::map<std::int64_t, std::vector<std::int64_t>> tickReceiptsUs;
};

// Writes the report to options.outputPath through a temporary file and a
// rename, so a reader never sees half a report. Returns false with *error.
bool writeReport(const Options &options, const Results &results, std::string *error);

} // namespace loadgen
