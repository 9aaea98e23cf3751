#include "results.h"

#include "options.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace loadgen {

namespace {

// Cause names are built from fixed words, errno names and numbers, so only
// quotes and backslashes could need escaping.
std::string quoted(const std::string &text)
{
    std::string out = "\"";
    for (const char c : text) {
        if (c == '"' || c == '\\')
            out.push_back('\\');
        out.push_back(c);
    }
    out.push_back('"');
    return out;
}

void writeCounts(std::ostream &out, const std::map<std::string, std::int64_t> &counts)
{
    out << '{';
    bool first = true;
    for (const auto &[cause, count] : counts) {
        out << (first ? "" : ",") << quoted(cause) << ':' << count;
        first = false;
    }
    out << '}';
}

void writeNumbers(std::ostream &out, const std::vector<std::int64_t> &numbers)
{
    out << '[';
    for (std::size_t index = 0; index < numbers.size(); ++index)
        out << (index ? "," : "") << numbers[index];
    out << ']';
}

} // namespace

bool writeReport(const Options &options, const Results &results, std::string *error)
{
    const std::string temporaryPath = options.outputPath + ".part";
    {
        std::ofstream out(temporaryPath, std::ios::trunc);
        if (!out) {
            *error = "cannot write " + temporaryPath + ": " + std::strerror(errno);
            return false;
        }

        out << "{\n\"name\":" << quoted(options.name) << ",\n\"sockets\":" << options.sockets
            << ",\n\"sources\":" << options.sources.size() << ",\n\"started_us\":" << results.startedUs
            << ",\n\"settled_us\":" << results.settledUs << ",\n\"stopped_us\":" << results.stoppedUs
            << ",\n\"first_welcome_us\":" << results.firstWelcomeUs
            << ",\n\"last_welcome_us\":" << results.lastWelcomeUs << ",\n\"joined\":" << results.joined
            << ",\n\"open_at_stop\":" << results.openAtStop << ",\n\"failures\":";
        writeCounts(out, results.failures);
        out << ",\n\"closes_after_join\":";
        writeCounts(out, results.closesAfterJoin);
        out << ",\n\"frames\":{\"heartbeats_sent\":" << results.heartbeatsSent
            << ",\"heartbeat_replies\":" << results.heartbeatReplies << ",\"ticks\":" << results.ticksReceived
            << ",\"presence\":" << results.presenceReceived
            << ",\"evolution\":" << results.evolutionReceived << ",\"other\":" << results.otherFramesReceived
            << ",\"pings_answered\":" << results.pingsAnswered << "}";
        out << ",\n\"join_latency_us\":";
        writeNumbers(out, results.joinLatencyUs);
        out << ",\n\"tick_receipts_us\":{";
        bool first = true;
        for (const auto &[tick, receipts] : results.tickReceiptsUs) {
            out << (first ? "\n" : ",\n") << '"' << tick << "\":";
            writeNumbers(out, receipts);
            first = false;
        }
        out << "}\n}\n";

        out.flush();
        if (!out) {
            *error = "cannot write " + temporaryPath + ": " + std::strerror(errno);
            return false;
        }
    }

    if (std::rename(temporaryPath.c_str(), options.outputPath.c_str()) != 0) {
        *error = "cannot rename " + temporaryPath + " to " + options.outputPath + ": " + std::strerror(errno);
        return false;
    }
    return true;
}

} // namespace loadgen
