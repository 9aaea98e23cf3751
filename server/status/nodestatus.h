// The node's status board: the latest global state, Chronos statistics and
// store readiness, written by the main thread and read by every socket
// thread (for welcome snapshots and the HTTP routes). Counters that socket
// threads bump on hot paths are atomics; the rest is a small struct copied
// under a mutex.
#pragma once

#include "chronos/chronos.h"
#include "chronos/clock.h"
#include "store/statestore.h"

#include <QJsonObject>
#include <QMutex>

#include <array>
#include <atomic>
#include <functional>

namespace collective {

// Counters for /metrics. Relaxed atomics: each is read on its own, and a
// scrape may see one increment before another.
struct NodeMetrics
{
    enum RejectReason { BinaryFrame, TooLarge, NotJson, NotFrameArray, WrongElementType, BadVersion, ProtocolError, RejectReasonCount };

    std::atomic<qint64> connectionsAccepted{0};
    std::atomic<qint64> joins{0};
    std::atomic<qint64> leaves{0};
    std::atomic<qint64> heartbeats{0};
    std::atomic<qint64> idleClosures{0};
    std::atomic<qint64> errorReplies{0};
    std::array<std::atomic<qint64>, RejectReasonCount> rejectedFrames{};
    std::atomic<qint64> broadcasts{0};
    std::atomic<qint64> broadcastFrames{0};      // frames written: broadcasts times sockets
    std::atomic<qint64> fanoutMicrosTotal{0};    // summed over every thread's fan-out
    std::atomic<qint64> fanoutCount{0};
    std::atomic<qint64> fanoutMicrosMax{0};
    std::atomic<qint64> acceptPauses{0};
    std::atomic<qint64> refusedTooManyOpen{0};  // 429: too many open from one address
    std::atomic<qint64> refusedTooManyNew{0};   // 429: too many new from one address this minute
    std::atomic<qint64> originRejections{0};    // 403: browser origin outside PHX_HOST
    std::atomic<qint64> handshakeTimeouts{0};   // not a WebSocket within the handshake timeout
    std::atomic<qint64> backlogClosures{0};     // 1008: unsent backlog over the limit
    std::atomic<qint64> refusedAtCapacity{0};   // 503: upgrade at the node's WebSocket limit
    std::atomic<qint64> refusedHeldLimit{0};    // 503: accepted at the ceiling of held connections
    std::atomic<qint64> storeReports{0};
    std::atomic<qint64> storeErrors{0};
    std::atomic<qint64> storeLatencyMicrosTotal{0};

    void recordFanout(qint64 micros, qint64 frames);
    static const char *rejectReasonName(RejectReason reason);
};

// The state the main thread publishes after each change of the global state.
struct PublishedState
{
    GlobalState global;                // as of the last store reply and local change
    qint64 localWitnessesAtPublish = 0; // this node's share of global.concurrentConnections
    ChronosStats chronos;
    qint64 startedAtMs = 0;            // monotonic, when the node started
    bool storeReady = false;
    QString storeNotReadyReason;
    QString storeBackend;
    QJsonObject evolution;             // /metrics/evolution body
    int threads = 0;
};

// The global state as one version of the board shows it. Broadcasts carry
// the version they were built from, and a welcome records the version it
// showed, so a socket never receives a broadcast older than its welcome.
struct PublishedView
{
    GlobalState global; // with this node's live count at that version
    quint64 version = 0;
};

class NodeStatus
{
public:
    explicit NodeStatus(const MonotonicClock *clock) : m_clock(clock) {}

    // Publishes a new version. `update` fills the state while the board is
    // locked, given this node's live count at that instant, so a join is
    // either counted in this version or sees it in its welcome.
    PublishedView publish(const std::function<void(PublishedState &state, qint64 liveLocal)> &update);

    // Counts a joining witness and reads the board in one step (see publish).
    PublishedView countJoin();

    // Reads the current version without counting anyone.
    PublishedView view() const;

    PublishedState read() const;

    // The global state with this node's live count now, which may be newer
    // than the last publish: a welcome must count the witness it greets.
    GlobalState liveGlobalState() const;

    // Readiness per the health contract: the store replies and Chronos ticked
    // within three intervals. Returns an empty string when ready, else why not.
    QString notReadyReason() const;

    const MonotonicClock *clock() const { return m_clock; }

    std::atomic<qint64> localWitnesses{0}; // joined sockets on this node
    std::atomic<qint64> openSockets{0};    // open WebSockets on this node
    // Accepted connections whose descriptor is still open: handshakes in
    // progress, WebSockets and plain HTTP requests.
    std::atomic<qint64> heldConnections{0};
    // Set by the upgrade that found the node full and cleared once one fits
    // again, so the limit is logged once per episode, not once per thread.
    std::atomic<bool> atCapacity{false};
    NodeMetrics metrics;

private:
    const MonotonicClock *m_clock;
    GlobalState withLiveCount(qint64 liveLocal) const;

    mutable QMutex m_mutex;
    PublishedState m_state;
    quint64 m_version = 0;
    // The highest count a reader computed; keeps a welcome or a scrape from
    // showing a peak lower than one shown before.
    mutable std::atomic<qint64> m_peakShown{0};
};

} // namespace collective
