// The state store: where the Collective's global state lives, shared by
// every node. One interface, several backends (the embedded file store now,
// Redis next); one contract test suite runs against each.
//
// The interface is asynchronous so a network backend never blocks the event
// loop: open() and report() return at once and their results arrive as
// signals. A node reports what it owes at most once per tick, or sooner
// when it has a milestone to claim, never once per join.
//
// Keys, as other tools read them from Redis:
//   global:concurrent_connections   joined witnesses across all nodes
//   global:total_connection_seconds integral of witnesses over time
//   global:unlocked_milestones      set of unlocked milestone ids
//   global:peak_connections         highest concurrent count ever
#pragma once

#include <QLoggingCategory>
#include <QObject>
#include <QStringList>

namespace collective {

Q_DECLARE_LOGGING_CATEGORY(lcStore)

struct GlobalState
{
    qint64 concurrentConnections = 0;
    qint64 peakConnections = 0;
    qint64 totalConnectionSeconds = 0;
    QStringList unlockedMilestones; // in unlock order
};

// A node's report to the store.
struct NodeReport
{
    qint64 addedSeconds = 0;    // whole witness-seconds owed since the last report
    qint64 liveWitnesses = 0;   // this node's joined witnesses now
    QStringList milestoneClaims; // ids this node saw reach their condition
    qint64 observedPeak = 0;    // highest global count this node saw since its last report
    quint64 id = 0;             // chosen by the node; the reply carries it back
};

struct ReportResult
{
    GlobalState state;
    // Claims that this report added to the unlocked set first. Only the node
    // whose claim won announces the milestone, so it is announced once.
    QStringList wonClaims;
    quint64 reportId = 0;      // the report this replies to; 0 when the store refreshed on its own
    qint64 reportedLive = 0;   // this node's count as included in state.concurrentConnections
};

class StateStore : public QObject
{
    Q_OBJECT

public:
    using QObject::QObject;

    // A short name for logs and /metrics/state: "embedded", "redis".
    virtual QString backendName() const = 0;

    // Loads the stored state; emits opened() or openFailed().
    virtual void open() = 0;

    // Applies a node's report; emits reportApplied() once for it, with the new
    // state, or with the store's best estimate when the backend is away.
    // A backend may also emit reportApplied() on its own (reportId 0) when
    // it learns a newer state.
    virtual void report(const NodeReport &report) = 0;

    // Tells other nodes this node's live count at once, between reports, so
    // their presence broadcasts include it. Single-node backends ignore it.
    virtual void publishPresence(qint64 liveWitnesses) { Q_UNUSED(liveWitnesses); }

    // Writes what is owed and closes, waiting at most timeoutMs. For shutdown,
    // when the event loop will not run again. Returns false if something owed
    // could not be written.
    virtual bool close(const NodeReport &finalReport, int timeoutMs) = 0;

    bool isReady() const { return m_ready; }
    QString notReadyReason() const { return m_notReadyReason; }

    // Operations that failed since start, for /metrics.
    qint64 errorCount() const { return m_errors; }

Q_SIGNALS:
    void opened(const collective::GlobalState &state);
    void openFailed(const QString &reason);
    void reportApplied(const collective::ReportResult &result);
    void readinessChanged(bool ready, const QString &reason);
    // Another node's witnesses changed; the sum over all other nodes.
    void remoteWitnessesChanged(qint64 otherNodesWitnesses);
    // Another node won the claim for this milestone and announced it.
    void remoteMilestoneUnlocked(const QString &id);

protected:
    // Records readiness and emits readinessChanged() when it changes.
    void setReady(bool ready, const QString &reason = QString());
    void recordError() { ++m_errors; }

private:
    bool m_ready = false;
    QString m_notReadyReason = QStringLiteral("the store is not open yet");
    qint64 m_errors = 0;
};

} // namespace collective

Q_DECLARE_METATYPE(collective::GlobalState)
Q_DECLARE_METATYPE(collective::ReportResult)
