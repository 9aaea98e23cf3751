// The Redis store: the global state shared by every node, under the keys
// other tools read (see store/statestore.h), kept right when nodes crash and
// while Redis is away.
//
// Extra keys and channels (the braces are Redis Cluster hash tags: keys
// with the same tag share a hash slot):
//   {collective}:nodes            set of node ids that reported recently
//   {collective}:sum_sequence     counts the sums of the node keys, so each
//                                 sum has a number in the order it was made
//   {global:concurrent_connections}:sequence
//                                 the number of the sum that
//                                 global:concurrent_connections contains
//   {collective}:node:<id>        that node's joined witnesses and a version;
//                                 expires after 1.5 tick intervals unless
//                                 refreshed
//   {global:total_connection_seconds}:applied:<id>
//                                 the last report sequence applied for that
//                                 node, beside the total it guards, so a report
//                                 resent after a lost reply is not counted
//                                 twice; expires after a day
//   {global:unlocked_milestones}:won_by
//                                 hash of milestone id to "<node id> <report
//                                 sequence>" of the first claim, so a claim
//                                 resent after a lost reply is still won
//   collective:events             pub/sub channel for presence and evolution
//
// A report is five single-slot commands, so the same code runs on one Redis
// and on a Redis Cluster (cluster/clusterrouter.h):
//   1. nodes script: refresh this node's key, sum the live node keys
//      (dropping expired nodes);
//   2. total script: add the seconds unless the sequence was applied;
//   3. claims script: SADD each claim; a claim whose SADD returned 1, or
//      whose recorded winner is this very batch, was won by this node;
//   4. then, with the sum: a concurrent script that writes the sum to
//      global:concurrent_connections unless a newer sum is there, and a
//      peak script that raises global:peak_connections only upwards.
// Every step may run twice without harm, so a batch with a failed step is
// resent whole. A node refreshes its key every half tick, so a killed node
// stops counting within two tick intervals.
//
// While Redis is unreachable the store answers every report with its own
// estimate (last known state plus what it owes), keeps the seconds it owes,
// and flushes them when Redis returns. Milestone claims wait for Redis, so
// a milestone is still announced exactly once.
#pragma once

#include "config/redisendpoint.h"
#include "store/redis/rediscommands.h"
#include "store/redis/redisconnection.h"
#include "store/statestore.h"

#include <QElapsedTimer>
#include <QHash>
#include <QTimer>

#include <memory>
#include <optional>

namespace collective {

class RedisStore final : public StateStore
{
    Q_OBJECT

public:
    // One Redis server.
    RedisStore(const RedisEndpoint &endpoint, int tickIntervalMs, QObject *parent = nullptr);
    // A Redis Cluster, found through any of its nodes.
    RedisStore(const QList<RedisEndpoint> &clusterSeeds, int tickIntervalMs, QObject *parent = nullptr);
    ~RedisStore() override;

    QString backendName() const override { return QStringLiteral("redis"); }
    void open() override;
    void report(const NodeReport &report) override;
    bool close(const NodeReport &finalReport, int timeoutMs) override;
    void publishPresence(qint64 liveWitnesses) override;

    QString nodeId() const { return m_nodeId; }

private:
    // The arguments of one script run. A batch is resent unchanged after a
    // lost reply, so its sequence lets Redis skip it when it was applied already.
    struct Batch
    {
        qint64 sequence = 0;
        qint64 addedSeconds = 0;
        qint64 liveWitnesses = 0;
        qint64 observedPeak = 0;
        QStringList claims;
        quint64 reportId = 0; // the report this batch replies to; 0 for a refresh
        qint64 version = 0;   // this node's count version written with it
    };

    // The replies of one run of a batch's commands, gathered as they come.
    struct BatchRun
    {
        int pending = 0;        // commands sent without a reply yet
        bool failed = false;
        bool scriptFailed = false; // Redis replied with an error
        QString error;
        qint64 sum = 0;
        qint64 sumSequence = 0; // orders the sums of all nodes
        QList<QPair<QString, QByteArray>> nodes; // node id, "<count> <version>"
        qint64 total = 0;
        qint64 peak = 0;
        QStringList won;
        QStringList unlocked;
    };

    // Another node's live count and the version it was written with.
    struct NodeCount
    {
        qint64 live = 0;
        qint64 version = -1;
    };

    RedisStore(std::unique_ptr<RedisCommands> commands, int tickIntervalMs, QObject *parent);

    void handleCommandsReady();
    void handleCommandsLost(const QString &reason);
    void handleSubscriberReady();
    void handleEvent(const QByteArray &message);
    void sendBatch(quint64 reportId);
    void runBatch();
    bool sendStep(const std::shared_ptr<BatchRun> &run, const QByteArray &routingKey,
                  const QByteArrayList &arguments, std::function<bool(const redisReply *)> take);
    void sendConcurrentAndPeak(const std::shared_ptr<BatchRun> &run);
    void stepDone(const std::shared_ptr<BatchRun> &run);
    void handleBatchFailure(const BatchRun &run);
    void handleBatchApplied(const BatchRun &run);
    void answerWithEstimate(quint64 reportId);
    GlobalState estimate() const;
    qint64 otherNodesWitnesses() const;
    void updateNodeCount(const QString &node, qint64 live, qint64 version);
    QByteArray nodeKey() const;
    qint64 nodeKeyTtlMs() const;
    void publish(const QJsonObject &event);

    const int m_tickIntervalMs;
    const QString m_nodeId;
    const int m_replyTimeoutMs;
    std::unique_ptr<RedisCommands> m_commands;
    RedisConnection m_subscriber;
    QTimer m_refreshTimer;
    QTimer m_answerTimer; // a report gets an estimate when Redis is slow

    bool m_opened = false;         // opened() was emitted
    bool m_outageLogged = false;
    GlobalState m_lastKnown;       // from the last script reply
    QHash<QString, NodeCount> m_nodeCounts; // other nodes' live counts, by node id
    qint64 m_version = 0;          // of this node's count, raised on every write

    // What this node owes and has not handed to a batch yet.
    qint64 m_owedSeconds = 0;
    qint64 m_liveWitnesses = 0;
    qint64 m_observedPeak = 0;
    QStringList m_claims;
    qint64 m_sequence = 0;
    std::optional<Batch> m_inFlight; // sent, reply not seen yet
    std::shared_ptr<BatchRun> m_run; // the current run of the batch in flight
    bool m_inFlightSent = false;
    qint64 m_inFlightSentAtMs = 0;  // monotonic, when the batch in flight was sent
    QElapsedTimer m_clock;
    bool m_flushWanted = false;
    bool m_scriptFailing = false; // logged once per failure streak
};

} // namespace collective
