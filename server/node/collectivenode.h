// A CollectiveNode is one server process of The Collective: it joins the
// connection layer, Chronos, Evolution and the state store on the main
// thread.
//
// The flow of one tick:
//   Chronos books this node's witness-seconds and emits tickCompleted;
//   the node reports them (with its live count and any milestone claims) to
//   the store; when the store answers with the global state, the node
//   broadcasts `tick`, and `evolution` for each claim it won, both in one
//   write to each witness. Another node's milestone that arrives while this
//   node's report is out waits for the tick and joins that write.
// Between ticks, a change in the witness count updates the local view of the
// global count, broadcasts `presence` (coalesced), and reports at once when
// the change reaches a milestone.
#pragma once

#include "chronos/chronos.h"
#include "config/config.h"
#include "connections/connectionlayer.h"
#include "evolution/evolution.h"
#include "status/nodestatus.h"
#include "store/statestore.h"

#include <QElapsedTimer>
#include <QLoggingCategory>
#include <QObject>
#include <QSet>
#include <QTimer>

#include <memory>
#include <optional>

namespace collective {

Q_DECLARE_LOGGING_CATEGORY(lcNode)

class CollectiveNode : public QObject
{
    Q_OBJECT

public:
    // Takes ownership of the store.
    CollectiveNode(const Config &config, std::unique_ptr<StateStore> store, QObject *parent = nullptr);
    ~CollectiveNode() override;

    // Opens the store; when it has loaded, starts listening and ticking.
    // Emits started() or startFailed().
    void start();

    // Stops ticking, closes every socket with 1001, writes what is owed and
    // closes the store. Blocks for at most a few seconds.
    void shutdown();

    quint16 port() const;

Q_SIGNALS:
    void started(quint16 port);
    void startFailed(const QString &reason);

private:
    struct PendingReport
    {
        qint64 tick = 0; // the tick to broadcast when the store answers, 0 for none
        qint64 sentAtUs = 0;
    };

    // An evolution frame whose milestone is already published, not yet sent.
    using Announcement = Broadcast;

    void handleRemoteWitnesses(qint64 otherNodesWitnesses);
    void handleRemoteMilestone(const QString &id);

    void handleStoreOpened(const GlobalState &state);
    void handleWitnessCountChanged(qint64 count);
    void handleTick(const TickReport &tick);
    void handleReportApplied(const ReportResult &result);
    void handleStoreReadinessChanged(bool ready, const QString &reason);

    void sendReport(qint64 addedSeconds, qint64 tick);
    bool tickReportInFlight() const;
    void claimReachedMilestones();
    void schedulePresence();
    void sendPresence();
    std::optional<Announcement> announceEvolution(const QString &id);
    PublishedView publishStatus();
    static QByteArray encodeBroadcast(const char *event, const QJsonObject &payload);
    void broadcast(const char *event, const QJsonObject &payload, quint64 version);
    // The global state with this node's count taken from the last
    // count-change notification, or with `localWitnesses`.
    GlobalState currentState() const;
    GlobalState stateWith(qint64 localWitnesses) const;

    Config m_config;
    SteadyClock m_clock;
    NodeStatus m_status;
    std::unique_ptr<StateStore> m_store;
    Chronos m_chronos;
    Evolution m_evolution;
    std::unique_ptr<ConnectionLayer> m_connections;

    GlobalState m_global;            // the store's last answer
    qint64 m_otherNodesWitnesses = 0; // global count less this node's, per the store
    qint64 m_localWitnesses = 0;
    qint64 m_peakSeen = 0;            // highest global count seen; a peak between reports is kept
    QSet<QString> m_claimsInFlight;
    QHash<quint64, PendingReport> m_pendingReports; // by report id
    quint64 m_lastReportId = 0;
    QSet<QString> m_announced; // milestones this node broadcast (or found unlocked at start)
    QList<Announcement> m_heldAnnouncements; // other nodes' milestones, waiting for this node's tick
    QElapsedTimer m_latencyTimer;

    QTimer m_presenceTimer;
    bool m_presencePending = false;
    qint64 m_lastPresenceConcurrent = -1;
    qint64 m_lastPresencePeak = -1;
    bool m_shuttingDown = false;
};

} // namespace collective
