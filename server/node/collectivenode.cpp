// The main-thread wiring of one node; the flow is described in collectivenode.h.
#include "node/collectivenode.h"

#include "http/routes.h"
#include "protocol/frame.h"
#include "protocol/messages.h"

#include <QDateTime>

#include <algorithm>
#include <utility>

#include <sys/resource.h>

namespace collective {

Q_LOGGING_CATEGORY(lcNode, "collective.node")

namespace {

// Descriptors kept free for HTTP requests, handshakes in progress, the store
// and logs when the connection limit follows the open-file limit.
constexpr qint64 descriptorReserve = 64;

// How long a shutdown waits for close frames to reach the witnesses.
constexpr int closeTimeoutMs = 2000;

struct ConnectionLimits
{
    qint64 webSockets;       // open WebSockets; a full node rejects further upgrades with 503
    qint64 heldConnections;  // connections of any kind; accepting pauses there
};

// Raises the soft open-file limit to the hard one and returns the limits it
// leaves room for. WebSockets stop a reserve below the open-file limit, and
// accepting pauses half-way into that reserve, so handshakes and health
// checks still get a descriptor at the WebSocket limit and the store and
// logs still get one when accepting has paused.
ConnectionLimits connectionLimits(int configured)
{
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &limit);
        ::getrlimit(RLIMIT_NOFILE, &limit);
    }
    const qint64 files = limit.rlim_cur == RLIM_INFINITY ? 1000000 : qint64(limit.rlim_cur);
    const qint64 reserve = qMax(descriptorReserve, files / 20);
    const qint64 fromFiles = qMax<qint64>(1, files - reserve);
    const qint64 heldCeiling = qMax<qint64>(1, files - reserve / 2);
    if (configured <= 0)
        return {fromFiles, heldCeiling};
    if (configured > fromFiles)
        qCWarning(lcNode, "COLLECTIVE_MAX_CONNECTIONS is %d but the open-file limit leaves room for %lld; "
                          "upgrades past %lld will get 503. Raise the limit (ulimit -n, LimitNOFILE).",
                  configured, fromFiles, fromFiles);
    return {qMin<qint64>(configured, fromFiles), heldCeiling};
}

} // namespace

CollectiveNode::CollectiveNode(const Config &config, std::unique_ptr<StateStore> store, QObject *parent)
    : QObject(parent),
      m_config(config),
      m_status(&m_clock),
      m_store(std::move(store)),
      m_chronos(&m_clock, config.tickIntervalMs),
      m_evolution(protocol::Catalogue::builtin())
{
    connect(m_store.get(), &StateStore::opened, this, &CollectiveNode::handleStoreOpened);
    connect(m_store.get(), &StateStore::openFailed, this, &CollectiveNode::startFailed);
    connect(m_store.get(), &StateStore::reportApplied, this, &CollectiveNode::handleReportApplied);
    connect(m_store.get(), &StateStore::readinessChanged, this, &CollectiveNode::handleStoreReadinessChanged);
    connect(m_store.get(), &StateStore::remoteWitnessesChanged, this, &CollectiveNode::handleRemoteWitnesses);
    connect(m_store.get(), &StateStore::remoteMilestoneUnlocked, this, &CollectiveNode::handleRemoteMilestone);
    connect(&m_chronos, &Chronos::tickCompleted, this, &CollectiveNode::handleTick);

    m_presenceTimer.setSingleShot(true);
    m_presenceTimer.setInterval(config.presenceIntervalMs);
    connect(&m_presenceTimer, &QTimer::timeout, this, [this] {
        if (m_presencePending)
            sendPresence();
    });
    m_latencyTimer.start();
}

CollectiveNode::~CollectiveNode() = default;

quint16 CollectiveNode::port() const
{
    return m_connections ? m_connections->port() : 0;
}

void CollectiveNode::start()
{
    m_status.publish([this](PublishedState &initial, qint64) {
        initial.startedAtMs = m_clock.nowMs();
        initial.storeBackend = m_store->backendName();
        initial.storeNotReadyReason = m_store->notReadyReason();
        initial.chronos = m_chronos.stats();
        initial.threads = m_config.threads;
    });

    m_store->open();
}

void CollectiveNode::handleStoreOpened(const GlobalState &state)
{
    m_global = state;
    m_otherNodesWitnesses = qMax<qint64>(0, state.concurrentConnections);
    m_peakSeen = state.peakConnections;
    m_announced = QSet<QString>(state.unlockedMilestones.cbegin(), state.unlockedMilestones.cend());
    m_evolution.begin(state);

    HubSettings hub;
    hub.idleTimeoutMs = m_config.idleTimeoutMs;
    hub.maxFrameBytes = m_config.maxFrameBytes;
    const ConnectionLimits capacity = connectionLimits(m_config.maxConnections);
    hub.maxConnections = capacity.webSockets;
    hub.maxHeldConnections = capacity.heldConnections;
    hub.tickIntervalMs = m_config.tickIntervalMs;
    hub.handshakeTimeoutMs = m_config.handshakeTimeoutMs;
    hub.maxBacklogBytes = m_config.maxBacklogBytes;
    hub.originPolicy = OriginPolicy(m_config.publicHosts, m_config.environment == Environment::Dev);

    AdmissionLimits limits;
    limits.maxConnectionsPerAddress = m_config.maxConnectionsPerAddress;
    limits.maxNewConnectionsPerMinute = m_config.maxNewConnectionsPerMinute;

    const NodeStatus *status = &m_status;
    m_connections = std::make_unique<ConnectionLayer>(
            m_config.threads, hub, limits, &m_status, m_evolution.catalogue(),
            [status](HttpEndpoint &server) { installRoutes(server, status); });
    connect(m_connections.get(), &ConnectionLayer::witnessCountChanged, this,
            &CollectiveNode::handleWitnessCountChanged);

    QString error;
    if (!m_connections->listen(m_config.bindAddress, m_config.port, m_config.sharePort, &error)) {
        Q_EMIT startFailed(error);
        return;
    }

    m_chronos.start();
    publishStatus();
    qCInfo(lcNode, "The Collective listens on %s port %u with %d socket threads, up to %lld witnesses.",
           qPrintable(m_config.bindAddress.toString()), m_connections->port(), m_config.threads,
           hub.maxConnections);
    Q_EMIT started(m_connections->port());
}

GlobalState CollectiveNode::currentState() const
{
    return stateWith(m_localWitnesses);
}

GlobalState CollectiveNode::stateWith(qint64 localWitnesses) const
{
    GlobalState state = m_global;
    state.concurrentConnections = m_otherNodesWitnesses + localWitnesses;
    state.peakConnections = std::max({state.peakConnections, state.concurrentConnections, m_peakSeen});
    return state;
}

void CollectiveNode::handleWitnessCountChanged(qint64 count)
{
    if (m_shuttingDown) {
        // During the drain only the time accounting follows the count.
        m_chronos.setWitnessCount(count);
        return;
    }
    m_localWitnesses = count;
    m_peakSeen = qMax(m_peakSeen, m_otherNodesWitnesses + m_localWitnesses);
    m_chronos.setWitnessCount(count);
    schedulePresence();
    claimReachedMilestones();
    publishStatus();
}

void CollectiveNode::handleTick(const TickReport &tick)
{
    // Announcements held for the last tick wait no longer than an interval.
    if (!m_heldAnnouncements.isEmpty())
        m_connections->broadcast(std::exchange(m_heldAnnouncements, {}));
    sendReport(tick.addedSeconds, tick.tick);
}

void CollectiveNode::claimReachedMilestones()
{
    // Milestones already claimed and not yet answered are not claimed twice.
    const QStringList reached = m_evolution.observe(currentState(), m_clock.nowMs());
    for (const QString &id : reached) {
        if (!m_claimsInFlight.contains(id)) {
            sendReport(0, 0);
            return;
        }
    }
}

void CollectiveNode::sendReport(qint64 addedSeconds, qint64 tick)
{
    NodeReport report;
    report.addedSeconds = addedSeconds;
    report.liveWitnesses = m_localWitnesses;
    GlobalState state = currentState();
    report.observedPeak = state.peakConnections;

    // Totals only grow, so this report's seconds alone may reach a time
    // milestone: it is claimed with them and announced with this tick.
    state.totalConnectionSeconds += addedSeconds;
    for (const QString &id : m_evolution.observe(state, m_clock.nowMs())) {
        if (!m_claimsInFlight.contains(id)) {
            report.milestoneClaims.append(id);
            m_claimsInFlight.insert(id);
        }
    }

    report.id = ++m_lastReportId;
    m_pendingReports.insert(report.id, {tick, m_latencyTimer.nsecsElapsed() / 1000});
    m_store->report(report);
}

bool CollectiveNode::tickReportInFlight() const
{
    return std::any_of(m_pendingReports.cbegin(), m_pendingReports.cend(),
                       [](const PendingReport &pending) { return pending.tick > 0; });
}

void CollectiveNode::handleReportApplied(const ReportResult &result)
{
    // A refresh the store made by itself replies to no report.
    PendingReport pending;
    if (result.reportId != 0 && m_pendingReports.contains(result.reportId)) {
        pending = m_pendingReports.take(result.reportId);
        m_status.metrics.storeReports.fetch_add(1, std::memory_order_relaxed);
        m_status.metrics.storeLatencyMicrosTotal.fetch_add(m_latencyTimer.nsecsElapsed() / 1000 - pending.sentAtUs,
                                                           std::memory_order_relaxed);
    }

    m_global = result.state;
    m_otherNodesWitnesses = qMax<qint64>(0, result.state.concurrentConnections - result.reportedLive);
    m_peakSeen = qMax(m_peakSeen, result.state.peakConnections);
    for (const QString &id : result.state.unlockedMilestones)
        m_claimsInFlight.remove(id);

    // Milestones are published here, so every welcome from now on lists them,
    // and announced in the tick's write to each witness, after the tick.
    QList<Broadcast> outgoing;
    if (pending.tick > 0)
        outgoing = std::exchange(m_heldAnnouncements, {});
    const auto announceLater = [this, &outgoing](const QString &id) {
        if (const auto announcement = announceEvolution(id))
            outgoing.append(*announcement);
    };
    for (const QString &id : result.wonClaims)
        announceLater(id);

    // A milestone another node won, whose announcement this node missed (its
    // event channel was down), is announced here once the state shows it.
    for (const QString &id : result.state.unlockedMilestones)
        announceLater(id);
    schedulePresence();

    if (pending.tick > 0 && !m_shuttingDown) {
        QElapsedTimer work;
        work.start();
        const PublishedView view = publishStatus();
        protocol::Tick tick;
        tick.concurrentConnections = view.global.concurrentConnections;
        tick.peakConnections = view.global.peakConnections;
        tick.totalConnectionSeconds = view.global.totalConnectionSeconds;
        tick.tick = pending.tick;
        outgoing.prepend(Broadcast{encodeBroadcast(protocol::events::tick, protocol::encodeTick(tick)), view.version});
        m_chronos.recordTickDuration(work.nsecsElapsed() / 1000);
    }
    if (!outgoing.isEmpty())
        m_connections->broadcast(outgoing);

    // The new total may have reached a time milestone.
    if (!m_shuttingDown)
        claimReachedMilestones();
    publishStatus();
}

void CollectiveNode::handleRemoteWitnesses(qint64 otherNodesWitnesses)
{
    if (m_shuttingDown)
        return;
    m_otherNodesWitnesses = otherNodesWitnesses;

    // Another node's presence can arrive before this node's store has opened.
    // There are no sockets yet, and the opened state brings the count again.
    if (!m_connections)
        return;
    m_peakSeen = qMax(m_peakSeen, m_otherNodesWitnesses + m_localWitnesses);
    schedulePresence();
    claimReachedMilestones();
    publishStatus();
}

void CollectiveNode::handleRemoteMilestone(const QString &id)
{
    if (m_shuttingDown)
        return;
    if (!m_global.unlockedMilestones.contains(id))
        m_global.unlockedMilestones.append(id);

    // Sent before this node's tick, whose report may still be out, the
    // announcement would delay it by a whole fan-out: it waits for the tick.
    if (const auto announcement = announceEvolution(id)) {
        if (tickReportInFlight())
            m_heldAnnouncements.append(*announcement);
        else
            m_connections->broadcast({*announcement});
    }
    publishStatus();
}

void CollectiveNode::handleStoreReadinessChanged(bool ready, const QString &reason)
{
    if (m_shuttingDown)
        return;
    if (ready)
        qCInfo(lcNode, "The %s store is ready.", qPrintable(m_store->backendName()));
    else
        qCWarning(lcNode, "The %s store is not ready: %s.", qPrintable(m_store->backendName()), qPrintable(reason));
    publishStatus();
}

void CollectiveNode::schedulePresence()
{
    // At most one presence per interval: the first change goes out at once,
    // later ones wait for the interval and go out as one.
    m_presencePending = true;
    if (!m_presenceTimer.isActive())
        sendPresence();
}

void CollectiveNode::sendPresence()
{
    m_presencePending = false;
    const PublishedView view = publishStatus();
    const GlobalState &state = view.global;
    if (state.concurrentConnections == m_lastPresenceConcurrent && state.peakConnections == m_lastPresencePeak)
        return;
    m_lastPresenceConcurrent = state.concurrentConnections;
    m_lastPresencePeak = state.peakConnections;
    m_store->publishPresence(m_localWitnesses);

    protocol::Presence presence;
    presence.concurrentConnections = state.concurrentConnections;
    presence.peakConnections = state.peakConnections;
    broadcast(protocol::events::presence, protocol::encodePresence(presence), view.version);
    m_presenceTimer.start();
}

std::optional<CollectiveNode::Announcement> CollectiveNode::announceEvolution(const QString &id)
{
    // Each node announces each milestone once, whichever way it learned of it.
    const protocol::Milestone *milestone = m_evolution.catalogue().find(id);
    if (!milestone || !m_connections || m_announced.contains(id))
        return std::nullopt;
    m_announced.insert(id);

    protocol::Evolution evolution;
    evolution.id = milestone->id;
    evolution.name = milestone->name;
    evolution.description = milestone->description;
    evolution.kind = milestone->kind;
    evolution.unlockedAt = QDateTime::currentDateTimeUtc();
    qCInfo(lcNode, "Milestone %s unlocked: %s", qPrintable(milestone->id), qPrintable(milestone->name));

    // Published first: a witness whose welcome is built after this version
    // finds the milestone in it, and is not sent the event as well.
    if (!m_global.unlockedMilestones.contains(id))
        m_global.unlockedMilestones.append(id);
    const PublishedView view = publishStatus();
    return Announcement{encodeBroadcast(protocol::events::evolution, protocol::encodeEvolution(evolution)), view.version};
}

QByteArray CollectiveNode::encodeBroadcast(const char *event, const QJsonObject &payload)
{
    return protocol::encodeFrame(protocol::broadcastFrame(QString::fromLatin1(event), payload));
}

void CollectiveNode::broadcast(const char *event, const QJsonObject &payload, quint64 version)
{
    m_connections->broadcast({Broadcast{encodeBroadcast(event, payload), version}});
}

PublishedView CollectiveNode::publishStatus()
{
    m_status.metrics.storeErrors.store(m_store->errorCount(), std::memory_order_relaxed);

    // The live count is read under the board's lock (see NodeStatus::publish),
    // so it can be newer than the last count-change notification.
    return m_status.publish([this](PublishedState &published, qint64 liveLocal) {
        const GlobalState state = stateWith(liveLocal);
        m_peakSeen = state.peakConnections;

        published.global = state;
        published.chronos = m_chronos.stats();
        published.storeReady = m_store->isReady();
        published.storeNotReadyReason = m_store->notReadyReason();
        published.evolution = m_evolution.progress(state, m_clock.nowMs());
    });
}

void CollectiveNode::shutdown()
{
    if (m_shuttingDown)
        return;
    m_shuttingDown = true;
    m_chronos.stop();

    // Witnesses count until their socket closes; the drain keeps the main
    // loop running, so each close reaches Chronos as it happens. A small
    // crowd is spread over 10 ms per witness, a large one over the whole
    // window, so stopping a server with a handful of witnesses stays quick.
    const qint64 witnesses = m_localWitnesses;
    if (m_connections) {
        const int windowMs = int(qMin<qint64>(m_config.drainWindowMs, witnesses * 10));
        qCInfo(lcNode, "Draining: closing %lld witnesses over %d ms.", witnesses, windowMs);
        m_connections->shutdown(protocol::CloseCode::GoingAway, QStringLiteral("server shutting down"), windowMs,
                                closeTimeoutMs);
    }
    m_chronos.setWitnessCount(m_status.localWitnesses.load());
    const qint64 owedSeconds = m_chronos.takeOwedSeconds();

    NodeReport finalReport;
    finalReport.addedSeconds = owedSeconds;
    finalReport.liveWitnesses = 0;
    const bool saved = m_store->close(finalReport, closeTimeoutMs);
    qCInfo(lcNode, "Shut down: %lld witnesses said goodbye, %lld final seconds %s.", witnesses, owedSeconds,
           saved ? "stored" : "could not be stored");
}

} // namespace collective
