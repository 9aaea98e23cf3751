// The Prometheus text exposition of /metrics. Names follow Prometheus
// conventions: a collective_ prefix, _total for counters, base units
// (seconds, not milliseconds).
#include "http/routes.h"

namespace collective {

namespace {

class Exposition
{
public:
    void metric(const char *name, const char *type, const char *help, double value)
    {
        header(name, type, help);
        sample(name, value);
    }

    void header(const char *name, const char *type, const char *help)
    {
        m_text += "# HELP ";
        m_text += name;
        m_text += ' ';
        m_text += help;
        m_text += "\n# TYPE ";
        m_text += name;
        m_text += ' ';
        m_text += type;
        m_text += '\n';
    }

    void sample(const char *name, double value, const QByteArray &labels = QByteArray())
    {
        m_text += name;
        if (!labels.isEmpty())
            m_text += '{' + labels + '}';
        m_text += ' ';
        m_text += QByteArray::number(value, 'g', 15);
        m_text += '\n';
    }

    QByteArray text() const { return m_text; }

private:
    QByteArray m_text;
};

double load(const std::atomic<qint64> &counter)
{
    return double(counter.load(std::memory_order_relaxed));
}

} // namespace

QByteArray prometheusText(const NodeStatus &status)
{
    const NodeMetrics &m = status.metrics;
    const PublishedState published = status.read();
    const GlobalState global = status.liveGlobalState();
    Exposition out;

    out.metric("collective_witnesses", "gauge", "Joined witnesses on this node.", load(status.localWitnesses));
    out.metric("collective_connections", "gauge", "Open WebSockets on this node, joined or not.",
               load(status.openSockets));
    out.metric("collective_held_connections", "gauge",
               "Accepted TCP connections on this node: handshakes in progress, WebSockets and plain HTTP.",
               load(status.heldConnections));
    out.metric("collective_global_witnesses", "gauge", "Joined witnesses across all nodes.",
               double(global.concurrentConnections));
    out.metric("collective_peak_witnesses", "gauge", "Highest number of witnesses ever joined at once.",
               double(global.peakConnections));
    out.metric("collective_witnessed_seconds", "gauge", "Total time witnessed, in witness-seconds.",
               double(global.totalConnectionSeconds));
    out.metric("collective_unlocked_milestones", "gauge", "Milestones unlocked so far.",
               double(global.unlockedMilestones.size()));

    out.metric("collective_connections_accepted_total", "counter", "WebSocket connections accepted.",
               load(m.connectionsAccepted));
    out.metric("collective_joins_total", "counter", "Joins to the lobby.", load(m.joins));
    out.metric("collective_leaves_total", "counter", "Witnesses that left or disconnected.", load(m.leaves));
    out.metric("collective_heartbeats_total", "counter", "Heartbeats answered.", load(m.heartbeats));
    out.metric("collective_idle_closures_total", "counter", "Sockets closed after the idle timeout.",
               load(m.idleClosures));
    out.metric("collective_error_replies_total", "counter", "Frames answered with an error reply.",
               load(m.errorReplies));
    out.metric("collective_accept_pauses_total", "counter",
               "Times a socket thread paused accepting near the open-file limit.",
               load(m.acceptPauses));

    out.header("collective_refused_connections_total", "counter",
               "Connections refused before the handshake or closed by a limit. Labelled by reason.");
    out.sample("collective_refused_connections_total", load(m.refusedTooManyOpen),
               QByteArrayLiteral("reason=\"too_many_open_per_address\""));
    out.sample("collective_refused_connections_total", load(m.refusedTooManyNew),
               QByteArrayLiteral("reason=\"too_many_new_per_address\""));
    out.sample("collective_refused_connections_total", load(m.originRejections),
               QByteArrayLiteral("reason=\"origin\""));
    out.sample("collective_refused_connections_total", load(m.handshakeTimeouts),
               QByteArrayLiteral("reason=\"handshake_timeout\""));
    out.sample("collective_refused_connections_total", load(m.backlogClosures),
               QByteArrayLiteral("reason=\"send_backlog\""));
    out.sample("collective_refused_connections_total", load(m.refusedAtCapacity),
               QByteArrayLiteral("reason=\"at_capacity\""));
    out.sample("collective_refused_connections_total", load(m.refusedHeldLimit),
               QByteArrayLiteral("reason=\"held_connections\""));

    out.header("collective_rejected_frames_total", "counter",
               "Malformed frames, and WebSockets opened with a serializer other than vsn=2.0.0 "
               "(bad_serializer_version); each closed its socket. Labelled by reason.");
    for (int reason = 0; reason < NodeMetrics::RejectReasonCount; ++reason) {
        const QByteArray label = QByteArrayLiteral("reason=\"")
                + NodeMetrics::rejectReasonName(NodeMetrics::RejectReason(reason)) + '"';
        out.sample("collective_rejected_frames_total", load(m.rejectedFrames[reason]), label);
    }

    out.metric("collective_broadcasts_total", "counter", "Broadcasts (tick, presence, evolution) sent.",
               load(m.broadcasts));
    out.metric("collective_broadcast_frames_total", "counter", "Frames written by broadcasts, summed over sockets.",
               load(m.broadcastFrames));
    out.header("collective_broadcast_fanout_seconds", "summary",
               "Time one socket thread took to write the broadcasts queued together to all its sockets.");
    out.sample("collective_broadcast_fanout_seconds_sum", load(m.fanoutMicrosTotal) / 1e6);
    out.sample("collective_broadcast_fanout_seconds_count", load(m.fanoutCount));
    out.metric("collective_broadcast_fanout_max_seconds", "gauge",
               "Longest fan-out by one socket thread since start.", load(m.fanoutMicrosMax) / 1e6);

    out.metric("collective_tick_duration_seconds", "gauge", "How long the last Chronos tick's work took.",
               double(published.chronos.lastTickDurationUs) / 1e6);
    out.metric("collective_tick_drift_seconds", "gauge", "Last tick's interval minus the nominal interval.",
               double(published.chronos.lastDriftMs) / 1e3);
    out.metric("collective_ticks_total", "counter", "Chronos ticks since start.", double(published.chronos.ticks));

    out.header("collective_store_latency_seconds", "summary", "Time from a report to the store's answer.");
    out.sample("collective_store_latency_seconds_sum", load(m.storeLatencyMicrosTotal) / 1e6);
    out.sample("collective_store_latency_seconds_count", load(m.storeReports));
    out.metric("collective_store_errors_total", "counter", "Store operations that failed.", load(m.storeErrors));
    out.metric("collective_store_ready", "gauge", "1 when the store answers, else 0.", published.storeReady ? 1 : 0);

    return out.text();
}

} // namespace collective
