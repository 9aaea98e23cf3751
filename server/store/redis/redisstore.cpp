// The Redis store; keys, script and outage behaviour are described in
// redisstore.h.
#include "store/redis/redisstore.h"

#include "store/redis/cluster/clusterrouter.h"

#include <QElapsedTimer>
#include <QEventLoop>
#include <QJsonDocument>
#include <QJsonObject>
#include <QUuid>

#include <hiredis/hiredis.h>

namespace collective {

namespace {

const QByteArray eventsChannel = QByteArrayLiteral("collective:events");
const QByteArray concurrentKey = QByteArrayLiteral("global:concurrent_connections");
const QByteArray totalKey = QByteArrayLiteral("global:total_connection_seconds");
const QByteArray unlockedKey = QByteArrayLiteral("global:unlocked_milestones");
const QByteArray peakKey = QByteArrayLiteral("global:peak_connections");
const QByteArray nodesKey = QByteArrayLiteral("{collective}:nodes");
const QByteArray sumSequenceKey = QByteArrayLiteral("{collective}:sum_sequence");
const QByteArray concurrentSequenceKey = QByteArrayLiteral("{global:concurrent_connections}:sequence");
const QByteArray nodeKeyPrefix = QByteArrayLiteral("{collective}:node:");
const QByteArray appliedKeyPrefix = QByteArrayLiteral("{global:total_connection_seconds}:applied:");
const QByteArray winnersKey = QByteArrayLiteral("{global:unlocked_milestones}:won_by");

// KEYS: 1 node set, 2 this node's key, 3 sum sequence
// ARGV: 1 node id, 2 "<live witnesses> <version>", 3 node key TTL in ms,
//       4 node key prefix
// Returns {sum of live node counts, {node id, "<count> <version>", ...},
//          sequence of this sum}.
//
// A node key holds its count and a version that grows with every update,
// because the same count also travels by pub/sub: a reader keeps whichever
// of the two it saw is newer. The node keys share the set's hash tag, so
// reading them by name stays inside the script's slot.
const QByteArray nodesScript = QByteArrayLiteral(R"lua(
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
redis.call('SADD', KEYS[1], ARGV[1])

local sum = 0
local nodes = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local value = redis.call('GET', ARGV[4] .. id)
  if value then
    sum = sum + tonumber(string.match(value, '^(%d+)'))
    table.insert(nodes, id)
    table.insert(nodes, value)
  else
    redis.call('SREM', KEYS[1], id)
  end
end
return {sum, nodes, redis.call('INCR', KEYS[3])}
)lua");

// KEYS: 1 concurrent count, 2 the sequence of the sum it contains
// ARGV: 1 sum, 2 sequence of that sum
// Writes the sum unless a later one is there already. Sums are numbered in
// the order the nodes script computed them, so two nodes that write at once
// leave the newer sum, whichever write arrives last.
const QByteArray concurrentScript = QByteArrayLiteral(R"lua(
if tonumber(ARGV[2]) > tonumber(redis.call('GET', KEYS[2]) or '0') then
  redis.call('SET', KEYS[1], ARGV[1])
  redis.call('SET', KEYS[2], ARGV[2])
end
return 1
)lua");

// KEYS: 1 total seconds, 2 this node's applied sequence
// ARGV: 1 sequence, 2 seconds to add
// Returns the total.
const QByteArray totalScript = QByteArrayLiteral(R"lua(
local applied = tonumber(redis.call('GET', KEYS[2]) or '0')
if tonumber(ARGV[1]) > applied then
  redis.call('INCRBY', KEYS[1], ARGV[2])
  redis.call('SET', KEYS[2], ARGV[1], 'EX', 86400)
end
return tonumber(redis.call('GET', KEYS[1]) or '0')
)lua");

// KEYS: 1 peak
// ARGV: 1 candidate
// Returns the peak, which never falls.
const QByteArray peakScript = QByteArrayLiteral(R"lua(
local peak = tonumber(redis.call('GET', KEYS[1]) or '0')
local candidate = tonumber(ARGV[1])
if candidate > peak then
  peak = candidate
  redis.call('SET', KEYS[1], peak)
end
return peak
)lua");

// KEYS: 1 unlocked set, 2 winners hash
// ARGV: 1 "<node id> <sequence>" of this batch, 2... milestone claims
// Returns {{claims won by this batch}, {unlocked ids}}.
//
// The winner is recorded with the batch's sequence, so the same batch
// resent after a lost reply still wins, and a later claim does not.
const QByteArray claimsScript = QByteArrayLiteral(R"lua(
local won = {}
for i = 2, #ARGV do
  if redis.call('SADD', KEYS[1], ARGV[i]) == 1 then
    redis.call('HSET', KEYS[2], ARGV[i], ARGV[1])
    table.insert(won, ARGV[i])
  elseif redis.call('HGET', KEYS[2], ARGV[i]) == ARGV[1] then
    table.insert(won, ARGV[i])
  end
end
return {won, redis.call('SMEMBERS', KEYS[1])}
)lua");

// A node key's value: "<count> <version>".
QByteArray nodeValue(qint64 live, qint64 version)
{
    return QByteArray::number(live) + ' ' + QByteArray::number(version);
}

qint64 integerOf(const redisReply *reply)
{
    if (reply->type == REDIS_REPLY_INTEGER)
        return reply->integer;
    if (reply->type == REDIS_REPLY_STRING)
        return QByteArray(reply->str, int(reply->len)).toLongLong();
    return 0;
}

QString stringOf(const redisReply *reply)
{
    return QString::fromUtf8(reply->str, int(reply->len));
}

} // namespace

namespace {

// A reply slower than a tick, or 2 s, means the server is stuck.
int replyTimeoutFor(int tickIntervalMs)
{
    return qMax(2000, tickIntervalMs);
}

} // namespace

RedisStore::RedisStore(const RedisEndpoint &endpoint, int tickIntervalMs, QObject *parent)
    : RedisStore(std::make_unique<SingleRedis>(endpoint, replyTimeoutFor(tickIntervalMs)), tickIntervalMs, parent)
{
}

RedisStore::RedisStore(const QList<RedisEndpoint> &clusterSeeds, int tickIntervalMs, QObject *parent)
    : RedisStore(std::make_unique<ClusterRouter>(clusterSeeds, replyTimeoutFor(tickIntervalMs)), tickIntervalMs,
                 parent)
{
}

RedisStore::RedisStore(std::unique_ptr<RedisCommands> commands, int tickIntervalMs, QObject *parent)
    : StateStore(parent),
      m_tickIntervalMs(tickIntervalMs),
      m_nodeId(QUuid::createUuid().toString(QUuid::Id128)),
      m_replyTimeoutMs(replyTimeoutFor(tickIntervalMs)),
      m_commands(std::move(commands)),
      m_subscriber(m_commands->subscriberEndpoint(), QStringLiteral("events"), m_replyTimeoutMs, this)
{
    m_commands->setParent(this);
    connect(m_commands.get(), &RedisCommands::ready, this, &RedisStore::handleCommandsReady);
    connect(m_commands.get(), &RedisCommands::lost, this, &RedisStore::handleCommandsLost);
    connect(&m_subscriber, &RedisConnection::ready, this, &RedisStore::handleSubscriberReady);
    // In a cluster any node delivers every event, so a lost subscriber
    // tries the next node instead of waiting for the one that went away.
    connect(&m_subscriber, &RedisConnection::lost, this,
            [this] { m_subscriber.setEndpoint(m_commands->subscriberEndpoint()); });

    // Refreshing every half tick keeps this node's key alive (TTL 1.5 ticks)
    // and lets a dead node's witnesses drop out within two ticks.
    m_refreshTimer.setInterval(qMax(50, tickIntervalMs / 2));

    // A report whose reply is late is answered with an estimate, so a hung
    // Redis delays a tick broadcast by at most this long; the batch itself
    // stays in flight until Redis answers or the connection is dropped.
    m_answerTimer.setSingleShot(true);
    m_answerTimer.setInterval(qBound(100, tickIntervalMs / 2, 1000));
    connect(&m_answerTimer, &QTimer::timeout, this, [this] {
        if (m_inFlight && m_inFlight->reportId != 0) {
            answerWithEstimate(m_inFlight->reportId);
            m_inFlight->reportId = 0;
        }
    });
    m_clock.start();
    connect(&m_refreshTimer, &QTimer::timeout, this, [this] {
        if (!m_commands->isReady())
            return;
        if (!m_inFlight) {
            sendBatch(0);
        } else if (!m_inFlightSent) {
            runBatch(); // a batch with a failed step is retried
        } else if (m_clock.elapsed() - m_inFlightSentAtMs > m_replyTimeoutMs) {
            // The connection's own watchdog should have caught this; a second
            // check here keeps a silent Redis from holding the batch for ever.
            m_commands->abandon(QStringLiteral("no reply to a report within %1 ms").arg(m_replyTimeoutMs));
        }
    });
}

RedisStore::~RedisStore()
{
    // Closing calls every pending reply handler with an error, and the
    // handlers use this store's members: close while they are all alive.
    m_commands->close();
    m_subscriber.close();
}

void RedisStore::open()
{
    qCInfo(lcRedis, "Connecting to Redis at %s as node %s.", qPrintable(m_commands->describe()),
           qPrintable(m_nodeId));
    setReady(false, QStringLiteral("connecting to Redis at %1").arg(m_commands->describe()));
    m_commands->open();
    m_subscriber.open();
}

void RedisStore::handleCommandsReady()
{
    if (m_outageLogged) {
        qCInfo(lcRedis, "Redis at %s is reachable again; flushing what this node owes.",
               qPrintable(m_commands->describe()));
        m_outageLogged = false;
    }
    setReady(true);
    m_refreshTimer.start();

    // A batch whose reply was lost is resent unchanged; Redis skips it if it
    // was applied. Otherwise the first batch loads the state.
    if (m_inFlight)
        runBatch();
    else
        sendBatch(0);
}

void RedisStore::handleCommandsLost(const QString &reason)
{
    m_inFlightSent = false;
    const QString notReady = QStringLiteral("Redis at %1 is unreachable (%2); counting continues locally")
                                     .arg(m_commands->describe(), reason);
    setReady(false, notReady);
    if (!m_outageLogged) {
        qCWarning(lcRedis, "%s. The seconds owed are kept and flushed when Redis returns; check the Redis "
                           "server and REDIS_URL.",
                  qPrintable(notReady));
        m_outageLogged = true;
    }
}

void RedisStore::handleSubscriberReady()
{
    m_subscriber.command(
            {QByteArrayLiteral("SUBSCRIBE"), eventsChannel},
            [this](const redisReply *reply, const QString &) {
                // Pub/sub messages are arrays: ["message", channel, payload].
                if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 3
                    && QByteArray(reply->element[0]->str, int(reply->element[0]->len)) == "message")
                    handleEvent(QByteArray(reply->element[2]->str, int(reply->element[2]->len)));
            },
            true);
}

void RedisStore::handleEvent(const QByteArray &message)
{
    const QJsonObject event = QJsonDocument::fromJson(message).object();
    const QString node = event.value(QLatin1String("node")).toString();
    if (node.isEmpty() || node == m_nodeId)
        return;

    const QString type = event.value(QLatin1String("event")).toString();
    if (type == QLatin1String("presence")) {
        updateNodeCount(node, event.value(QLatin1String("live")).toInteger(),
                        event.value(QLatin1String("version")).toInteger());
        Q_EMIT remoteWitnessesChanged(otherNodesWitnesses());
    } else if (type == QLatin1String("evolution")) {
        const QString id = event.value(QLatin1String("id")).toString();
        if (!id.isEmpty() && !m_lastKnown.unlockedMilestones.contains(id))
            m_lastKnown.unlockedMilestones.append(id);
        Q_EMIT remoteMilestoneUnlocked(id);
    }
}

void RedisStore::publish(const QJsonObject &event)
{
    QJsonObject withNode = event;
    withNode.insert(QStringLiteral("node"), m_nodeId);
    // Routed like this node's key, so in a cluster it leaves from the same
    // master as the key written just before it, and in that order.
    m_commands->command(nodeKey(),
                        {QByteArrayLiteral("PUBLISH"), eventsChannel,
                         QJsonDocument(withNode).toJson(QJsonDocument::Compact)},
                        [](const redisReply *, const QString &) {});
}

void RedisStore::publishPresence(qint64 liveWitnesses)
{
    m_liveWitnesses = liveWitnesses;
    if (!m_commands->isReady())
        return;

    // The key is written before the event goes out, on the same connection,
    // so a node that hears the event and then sums the keys sees this count.
    ++m_version;
    m_commands->command(nodeKey(),
                        {QByteArrayLiteral("SET"), nodeKey(), nodeValue(liveWitnesses, m_version),
                         QByteArrayLiteral("PX"), QByteArray::number(nodeKeyTtlMs())},
                        [](const redisReply *, const QString &) {});
    publish(QJsonObject{{QStringLiteral("event"), QStringLiteral("presence")},
                        {QStringLiteral("live"), liveWitnesses},
                        {QStringLiteral("version"), m_version}});
}

QByteArray RedisStore::nodeKey() const
{
    return nodeKeyPrefix + m_nodeId.toLatin1();
}

qint64 RedisStore::nodeKeyTtlMs() const
{
    return qMax<qint64>(150, qint64(m_tickIntervalMs) * 3 / 2);
}

void RedisStore::updateNodeCount(const QString &node, qint64 live, qint64 version)
{
    NodeCount &entry = m_nodeCounts[node];
    if (version >= entry.version) {
        entry.live = qMax<qint64>(0, live);
        entry.version = version;
    }
}

void RedisStore::report(const NodeReport &report)
{
    m_owedSeconds += qMax<qint64>(0, report.addedSeconds);
    m_liveWitnesses = qMax<qint64>(0, report.liveWitnesses);
    m_observedPeak = qMax(m_observedPeak, report.observedPeak);
    for (const QString &id : report.milestoneClaims) {
        if (!m_claims.contains(id))
            m_claims.append(id);
    }

    if (m_commands->isReady() && !m_inFlight) {
        sendBatch(report.id);
        return;
    }
    m_flushWanted = true;
    answerWithEstimate(report.id);
}

void RedisStore::sendBatch(quint64 reportId)
{
    Batch batch;
    batch.sequence = ++m_sequence;
    batch.addedSeconds = m_owedSeconds;
    batch.liveWitnesses = m_liveWitnesses;
    batch.observedPeak = m_observedPeak;
    batch.claims = m_claims;
    batch.reportId = reportId;

    m_owedSeconds = 0;
    m_observedPeak = 0;
    m_claims.clear();
    m_inFlight = batch;
    runBatch();
}

void RedisStore::runBatch()
{
    // The live count is a state, not a delta: a batch sent again carries the
    // newest one, or it would overwrite a newer count that presence wrote.
    Batch &batch = *m_inFlight;
    batch.liveWitnesses = m_liveWitnesses;
    batch.version = ++m_version;
    const QByteArray key = nodeKey();
    const QByteArray node = m_nodeId.toLatin1();
    auto run = std::make_shared<BatchRun>();
    m_run = run;

    // Steps 1 to 3 go out together; step 4 needs the sum from step 1.
    bool sent = sendStep(run, key,
                         {QByteArrayLiteral("EVAL"), nodesScript, QByteArrayLiteral("3"), nodesKey, key, sumSequenceKey, node,
                          nodeValue(batch.liveWitnesses, batch.version), QByteArray::number(nodeKeyTtlMs()),
                          nodeKeyPrefix},
                         [this, run](const redisReply *reply) {
                             if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3)
                                 return false;
                             run->sum = integerOf(reply->element[0]);
                             run->sumSequence = integerOf(reply->element[2]);
                             const redisReply *nodes = reply->element[1];
                             for (size_t i = 0; i + 1 < nodes->elements; i += 2)
                                 run->nodes.append({stringOf(nodes->element[i]),
                                                    QByteArray(nodes->element[i + 1]->str,
                                                               int(nodes->element[i + 1]->len))});
                             sendConcurrentAndPeak(run);
                             return true;
                         });
    sent = sent
            && sendStep(run, totalKey,
                        {QByteArrayLiteral("EVAL"), totalScript, QByteArrayLiteral("2"), totalKey,
                         appliedKeyPrefix + node, QByteArray::number(batch.sequence),
                         QByteArray::number(batch.addedSeconds)},
                        [run](const redisReply *reply) {
                            run->total = integerOf(reply);
                            return reply->type == REDIS_REPLY_INTEGER;
                        });
    QByteArrayList claims{QByteArrayLiteral("EVAL"), claimsScript, QByteArrayLiteral("2"), unlockedKey, winnersKey,
                          node + ' ' + QByteArray::number(batch.sequence)};
    for (const QString &claim : std::as_const(batch.claims))
        claims.append(claim.toUtf8());
    sent = sent && sendStep(run, unlockedKey, claims, [run](const redisReply *reply) {
        if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2)
            return false;
        for (size_t i = 0; i < reply->element[0]->elements; ++i)
            run->won.append(stringOf(reply->element[0]->element[i]));
        for (size_t i = 0; i < reply->element[1]->elements; ++i)
            run->unlocked.append(stringOf(reply->element[1]->element[i]));
        return true;
    });

    m_inFlightSent = run->pending > 0;
    m_inFlightSentAtMs = m_clock.elapsed();
    if (!sent) {
        run->failed = true;
        if (run->error.isEmpty())
            run->error = QStringLiteral("Redis is not reachable");
    }
    if (m_inFlightSent && batch.reportId != 0)
        m_answerTimer.start();
    if (run->pending == 0) {
        m_run.reset();
        handleBatchFailure(*run);
    }
}

bool RedisStore::sendStep(const std::shared_ptr<BatchRun> &run, const QByteArray &routingKey,
                          const QByteArrayList &arguments, std::function<bool(const redisReply *)> take)
{
    const bool sent = m_commands->command(
            routingKey, arguments, [this, run, take](const redisReply *reply, const QString &error) {
                // A run given up for a newer one only counts its replies down.
                if (run != m_run) {
                    --run->pending;
                    return;
                }
                if (!reply || reply->type == REDIS_REPLY_ERROR) {
                    run->failed = true;
                    run->scriptFailed = run->scriptFailed || reply != nullptr;
                    if (run->error.isEmpty())
                        run->error = reply ? stringOf(reply) : error;
                } else if (!take(reply)) {
                    run->failed = true;
                    run->scriptFailed = true;
                    if (run->error.isEmpty())
                        run->error = QStringLiteral("a reply of an unexpected shape");
                }
                // Later steps are sent from take(), before this one counts as done.
                --run->pending;
                stepDone(run);
            });
    if (sent)
        ++run->pending;
    return sent;
}

void RedisStore::sendConcurrentAndPeak(const std::shared_ptr<BatchRun> &run)
{
    const Batch &batch = *m_inFlight;
    const qint64 candidate = qMax(run->sum, batch.observedPeak);
    const bool sent = sendStep(run, concurrentKey,
                               {QByteArrayLiteral("EVAL"), concurrentScript, QByteArrayLiteral("2"), concurrentKey,
                                concurrentSequenceKey, QByteArray::number(run->sum),
                                QByteArray::number(run->sumSequence)},
                               [](const redisReply *) { return true; })
            && sendStep(run, peakKey,
                        {QByteArrayLiteral("EVAL"), peakScript, QByteArrayLiteral("1"), peakKey,
                         QByteArray::number(candidate)},
                        [run](const redisReply *reply) {
                            run->peak = integerOf(reply);
                            return reply->type == REDIS_REPLY_INTEGER;
                        });
    if (!sent) {
        run->failed = true;
        if (run->error.isEmpty())
            run->error = QStringLiteral("Redis went away during a report");
    }
}

void RedisStore::stepDone(const std::shared_ptr<BatchRun> &run)
{
    if (run->pending > 0)
        return;
    m_run.reset();
    m_inFlightSent = false;
    if (run->failed)
        handleBatchFailure(*run);
    else
        handleBatchApplied(*run);
}

void RedisStore::handleBatchFailure(const BatchRun &run)
{
    // The batch stays in flight and is resent after the reconnect, or at
    // the next refresh; its report is answered with an estimate so the tick
    // still goes out.
    recordError();
    if (run.scriptFailed && !m_scriptFailing)
        qCCritical(lcRedis, "A report step failed on Redis: %s. It is retried every half tick; check that no "
                            "other program writes the global:* keys with other types.",
                   qPrintable(run.error));
    else if (!run.scriptFailed)
        qCDebug(lcRedis, "A report did not reach Redis (%s); it is resent.", qPrintable(run.error));
    m_scriptFailing = run.scriptFailed;
    if (m_inFlight && m_inFlight->reportId != 0) {
        answerWithEstimate(m_inFlight->reportId);
        m_inFlight->reportId = 0;
    }
}

void RedisStore::handleBatchApplied(const BatchRun &run)
{
    const Batch batch = *m_inFlight;
    m_inFlight.reset();
    m_answerTimer.stop();
    if (m_scriptFailing) {
        qCInfo(lcRedis, "Reports are applied on Redis again.");
        m_scriptFailing = false;
    }

    ReportResult result;
    result.reportId = batch.reportId;
    result.reportedLive = batch.liveWitnesses;
    result.state.concurrentConnections = run.sum;
    result.state.peakConnections = run.peak;
    result.state.totalConnectionSeconds = run.total;
    result.wonClaims = run.won;

    // SMEMBERS has no order; keep the known unlock order and append new ids.
    QStringList unlocked = m_lastKnown.unlockedMilestones;
    for (const QString &id : run.unlocked) {
        if (!unlocked.contains(id))
            unlocked.append(id);
    }
    result.state.unlockedMilestones = unlocked;

    // Nodes missing from the reply have expired; the others keep whichever
    // count is newer, this reply's or a presence event's.
    QHash<QString, NodeCount> previous;
    previous.swap(m_nodeCounts);
    for (const auto &[id, value] : run.nodes) {
        if (id == m_nodeId)
            continue;
        const QList<QByteArray> parts = value.split(' ');
        if (previous.contains(id))
            m_nodeCounts.insert(id, previous.value(id));
        updateNodeCount(id, parts.value(0).toLongLong(), parts.value(1).toLongLong());
    }
    m_lastKnown = result.state;

    for (const QString &id : result.wonClaims)
        publish(QJsonObject{{QStringLiteral("event"), QStringLiteral("evolution")}, {QStringLiteral("id"), id}});

    if (!m_opened) {
        m_opened = true;
        qCInfo(lcRedis, "Redis store opened: %lld seconds witnessed, peak %lld, %lld milestones unlocked, "
                        "%lld witnesses on other nodes.",
               result.state.totalConnectionSeconds, result.state.peakConnections,
               qint64(result.state.unlockedMilestones.size()), otherNodesWitnesses());
        Q_EMIT opened(result.state);
    } else {
        Q_EMIT reportApplied(result);
    }

    // Reports that came in while this batch was out go in the next one.
    if (m_flushWanted || m_owedSeconds > 0 || !m_claims.isEmpty()) {
        m_flushWanted = false;
        if (m_commands->isReady())
            sendBatch(0);
    }
}

void RedisStore::answerWithEstimate(quint64 reportId)
{
    ReportResult result;
    result.reportId = reportId;
    result.reportedLive = m_liveWitnesses;
    result.state = estimate();
    QTimer::singleShot(0, this, [this, result] {
        if (m_opened)
            Q_EMIT reportApplied(result);
    });
}

qint64 RedisStore::otherNodesWitnesses() const
{
    qint64 sum = 0;
    for (const NodeCount &count : m_nodeCounts)
        sum += count.live;
    return sum;
}

GlobalState RedisStore::estimate() const
{
    GlobalState state = m_lastKnown;
    state.concurrentConnections = otherNodesWitnesses() + m_liveWitnesses;
    state.peakConnections = std::max({state.peakConnections, state.concurrentConnections, m_observedPeak});
    state.totalConnectionSeconds += m_owedSeconds + (m_inFlight ? m_inFlight->addedSeconds : 0);
    return state;
}

bool RedisStore::close(const NodeReport &finalReport, int timeoutMs)
{
    // Runs a private event loop until Redis replies to the final batch,
    // because the main loop is about to end.
    m_refreshTimer.stop();
    NodeReport last = finalReport;
    last.liveWitnesses = 0;
    m_owedSeconds += qMax<qint64>(0, last.addedSeconds);
    m_liveWitnesses = 0;

    // The final batch always goes out, even with nothing owed, so this node's
    // count drops to zero at once instead of when its key expires.
    QElapsedTimer waited;
    waited.start();
    QEventLoop loop;
    bool finalSent = false;
    auto settled = [this, &finalSent] { return finalSent && !m_inFlight && m_owedSeconds == 0; };
    while (!settled() && waited.elapsed() < timeoutMs) {
        if (m_commands->isReady() && !m_inFlight) {
            sendBatch(0);
            finalSent = true;
        }
        else if (m_commands->isReady() && m_inFlight && !m_inFlightSent)
            runBatch();
        loop.processEvents(QEventLoop::WaitForMoreEvents, 50);
    }

    const bool flushed = settled();
    if (!flushed)
        qCCritical(lcRedis, "Redis did not take the final %lld seconds within %d ms; they are lost.",
                   m_owedSeconds + (m_inFlight ? m_inFlight->addedSeconds : 0), timeoutMs);
    m_commands->close();
    m_subscriber.close();
    setReady(false, QStringLiteral("the store is closed"));
    return flushed;
}

} // namespace collective
