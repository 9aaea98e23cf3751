// The status board shared by the main thread and the socket threads.
#include "status/nodestatus.h"

namespace collective {

void NodeMetrics::recordFanout(qint64 micros, qint64 frames)
{
    fanoutMicrosTotal.fetch_add(micros, std::memory_order_relaxed);
    fanoutCount.fetch_add(1, std::memory_order_relaxed);
    broadcastFrames.fetch_add(frames, std::memory_order_relaxed);
    qint64 seen = fanoutMicrosMax.load(std::memory_order_relaxed);
    while (micros > seen && !fanoutMicrosMax.compare_exchange_weak(seen, micros, std::memory_order_relaxed)) {
    }
}

const char *NodeMetrics::rejectReasonName(RejectReason reason)
{
    switch (reason) {
    case BinaryFrame:
        return "binary_frame";
    case TooLarge:
        return "too_large";
    case NotJson:
        return "not_json";
    case NotFrameArray:
        return "not_frame_array";
    case WrongElementType:
        return "wrong_element_type";
    case BadVersion:
        return "bad_serializer_version";
    case ProtocolError:
        return "protocol_error";
    case RejectReasonCount:
        break;
    }
    return "unknown";
}

PublishedView NodeStatus::publish(const std::function<void(PublishedState &state, qint64 liveLocal)> &update)
{
    QMutexLocker locker(&m_mutex);
    const qint64 live = localWitnesses.load(std::memory_order_relaxed);
    update(m_state, live);
    m_state.localWitnessesAtPublish = live;
    return {withLiveCount(live), ++m_version};
}

PublishedView NodeStatus::countJoin()
{
    QMutexLocker locker(&m_mutex);
    const qint64 live = localWitnesses.fetch_add(1, std::memory_order_relaxed) + 1;
    return {withLiveCount(live), m_version};
}

PublishedView NodeStatus::view() const
{
    QMutexLocker locker(&m_mutex);
    return {withLiveCount(localWitnesses.load(std::memory_order_relaxed)), m_version};
}

// Called with the mutex held.
GlobalState NodeStatus::withLiveCount(qint64 liveLocal) const
{
    GlobalState global = m_state.global;
    const qint64 others = qMax<qint64>(0, global.concurrentConnections - m_state.localWitnessesAtPublish);
    global.concurrentConnections = others + liveLocal;
    global.peakConnections = qMax(global.peakConnections, global.concurrentConnections);
    return global;
}

PublishedState NodeStatus::read() const
{
    QMutexLocker locker(&m_mutex);
    return m_state;
}

GlobalState NodeStatus::liveGlobalState() const
{
    GlobalState global = view().global;
    const qint64 peak = global.peakConnections;
    qint64 shown = m_peakShown.load(std::memory_order_relaxed);
    while (peak > shown && !m_peakShown.compare_exchange_weak(shown, peak, std::memory_order_relaxed)) {
    }
    global.peakConnections = qMax(peak, m_peakShown.load(std::memory_order_relaxed));
    return global;
}

QString NodeStatus::notReadyReason() const
{
    const PublishedState state = read();
    if (!state.storeReady)
        return state.storeNotReadyReason.isEmpty() ? QStringLiteral("the store is not ready")
                                                   : state.storeNotReadyReason;

    const qint64 lastTick = state.chronos.lastTickAtMs >= 0 ? state.chronos.lastTickAtMs : state.startedAtMs;
    const qint64 silentMs = m_clock->nowMs() - lastTick;
    if (silentMs > 3LL * state.chronos.tickIntervalMs)
        return QStringLiteral("Chronos has not ticked for %1 ms (interval %2 ms)")
                .arg(silentMs)
                .arg(state.chronos.tickIntervalMs);
    return QString();
}

} // namespace collective
