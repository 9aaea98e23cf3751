// The load generator: one epoll loop on one thread drives every socket of
// this process through connect, WebSocket upgrade, join and heartbeats.
#pragma once

#include "options.h"
#include "results.h"
#include "wire.h"

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace loadgen {

class Generator {
public:
    explicit Generator(Options options);
    ~Generator();

    Generator(const Generator &) = delete;
    Generator &operator=(const Generator &) = delete;

    // Runs until SIGTERM, SIGINT or SIGUSR1 or --max-run. Returns false with
    // *error when the event loop cannot be set up.
    bool run(std::string *error);

    const Results &results() const { return m_results; }

private:
    enum class Phase : std::uint8_t { NotStarted, Connecting, Upgrading, Joining, Joined, Done };

    struct Connection {
        int fd = -1;
        Phase phase = Phase::NotStarted;
        bool wantsWrite = false;
        std::uint8_t messageOpcode = 0;
        std::uint32_t nextRef = 2; // "1" is the join
        std::int64_t startedUs = 0;
        std::string input;   // received bytes not yet parsed
        std::string message; // fragments of a message not yet complete
        std::string output;  // bytes the kernel did not take yet
    };

    void startMore(std::int64_t nowUs);
    void open(int index, std::int64_t nowUs);
    void handleEvent(int index, std::uint32_t events);
    void finishConnect(int index);
    void readFrom(int index);
    // Moves the socket to Joining once the 101 response is complete.
    void parseUpgradeResponse(int index);
    // Consumes complete frames from the front of data and returns how many
    // bytes it used; sets *closed when the socket was closed meanwhile.
    std::size_t parseFrames(int index, std::string_view data, std::int64_t receivedUs, bool *closed);
    // Returns false when the message closed the socket.
    bool handleMessage(int index, std::uint8_t opcode, std::string_view payload, std::int64_t receivedUs);
    void handleText(int index, std::string_view text, std::int64_t receivedUs);
    void welcome(int index, std::int64_t receivedUs);

    void sendFrame(int index, Opcode opcode, std::string_view payload);
    void sendBytes(int index, std::string_view bytes);
    void flush(int index);
    void setWantsWrite(int index, bool wantsWrite);

    // Gives up a socket that was not welcomed.
    void fail(int index, const std::string &cause);
    // Records the loss of a welcomed socket.
    void lose(int index, const std::string &cause);
    // Ends a socket for `cause`: a loss once welcomed, else a failure that
    // names the phase it reached.
    void drop(int index, const std::string &cause);
    void closeSocket(int index);

    void sendDueHeartbeats(std::int64_t nowUs);
    void giveUpPending();
    void settleIfDone(std::int64_t nowUs);
    int waitTimeoutMs(std::int64_t nowUs) const;
    bool pollingReads() const;
    static void pause(int milliseconds);
    std::uint32_t nextRandom();

    Options m_options;
    Results m_results;
    std::vector<Connection> m_connections;
    std::deque<std::pair<std::int64_t, int>> m_heartbeatsDue; // time, socket index; in time order
    std::vector<char> m_readBuffer;

    int m_epoll = -1;
    int m_signals = -1;
    int m_nextToStart = 0;
    int m_pending = 0;  // opened, not yet welcomed or given up
    int m_finished = 0; // welcomed or given up
    bool m_settled = false;
    std::int64_t m_joinDeadlineUs = 0;
    std::int64_t m_stopDeadlineUs = 0;
    std::uint64_t m_randomState = 0;
};

} // namespace loadgen
