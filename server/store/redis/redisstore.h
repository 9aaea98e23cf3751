// The Redis store: the global state shared by every node, under the keys
// other tools read (see store/statestore.h), kept right when nodes crash and
// while Redis is away.
//
// Extra keys and channels:
//   collective:nodes              set of node ids that reported recently
//   collective:node:<id>          that node's joined witnesses; expires after
//                                 1.5 tick intervals unless refreshed
//   collective:node:<id>:applied  the last report sequence applied for that
//                                 node, so a report resent after a lost reply
//                                 is not counted twice; expires after a day
//   collective:events             pub/sub channel for presence and evolution
//
// Each report runs one Lua script, atomically: refresh the node's key, sum
// the live node keys into global:concurrent_connections (dropping expired
// nodes), add the seconds unless the sequence was already applied, raise the
// peak only upwards, and SADD the milestone claims; a claim whose SADD
// returned 1 was won by this node. A node refreshes its key every half tick,
// so a killed node stops counting within two tick intervals.
//
// While Redis is unreachable the store answers every report with its own
// estimate (last known state plus what it owes), keeps the seconds it owes,
// and flushes them when Redis returns. Milestone claims wait for Redis, so
// a milestone is still announced exactly once.
//
// NOTE: the script touches several keys in different hash slots, so it runs
// on a single Redis, not on a Redis Cluster.
#pragma once

#include "config/redisendpoint.h"
#include "store/redis/redisconnection.h"
#include "store/statestore.h"

#include <QElapsedTimer>
#include <QHash>
#include <QTimer>

#include <optional>

namespace collective {

class RedisStore final : public StateStore
{
    Q_OBJECT

public:
    RedisStore(const RedisEndpoint &endpoint, int tickIntervalMs, QObject *parent = nullptr);
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

    // Another node's live count and the version it was written with.
    struct NodeCount
    {
        qint64 live = 0;
        qint64 version = -1;
    };

    void handleCommandsReady();
    void handleCommandsLost(const QString &reason);
    void handleSubscriberReady();
    void handleEvent(const QByteArray &message);
    void sendBatch(quint64 reportId);
    void runBatch();
    void handleBatchReply(const redisReply *reply, const QString &error);
    void answerWithEstimate(quint64 reportId);
    GlobalState estimate() const;
    qint64 otherNodesWitnesses() const;
    void updateNodeCount(const QString &node, qint64 live, qint64 version);
    QByteArray nodeKey() const;
    qint64 nodeKeyTtlMs() const;
    void publish(const QJsonObject &event);

    const RedisEndpoint m_endpoint;
    const int m_tickIntervalMs;
    const QString m_nodeId;
    const int m_replyTimeoutMs;
    RedisConnection m_commands;
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
    bool m_inFlightSent = false;
    qint64 m_inFlightSentAtMs = 0;  // monotonic, when the batch in flight was sent
    QElapsedTimer m_clock;
    bool m_flushWanted = false;
    bool m_scriptFailing = false; // logged once per failure streak
};

} // namespace collective
