// The Redis store; keys, script and outage behaviour are described in
// redisstore.h.
#include "store/redis/redisstore.h"

#include <QElapsedTimer>
#include <QEventLoop>
#include <QJsonDocument>
#include <QJsonObject>
#include <QUuid>

#include <hiredis/hiredis.h>

namespace collective {

namespace {

const QByteArray eventsChannel = QByteArrayLiteral("collective:events");

// KEYS: 1 concurrent, 2 total, 3 unlocked set, 4 peak, 5 node set,
//       6 this node's count, 7 this node's applied sequence
// ARGV: 1 node id, 2 "<live witnesses> <version>", 3 node key TTL in ms,
//       4 sequence, 5 seconds to add, 6 observed peak, 7... milestone claims
// Returns {concurrent, peak, total, {won claims}, {unlocked ids},
//          {node id, "<count> <version>", ...}}.
//
// A node key holds its count and a version that grows with every update,
// because the same count also travels by pub/sub: a reader keeps whichever
// of the two it saw is newer.
const QByteArray reportScript = QByteArrayLiteral(R"lua(
redis.call('SET', KEYS[6], ARGV[2], 'PX', ARGV[3])
redis.call('SADD', KEYS[5], ARGV[1])

local applied = tonumber(redis.call('GET', KEYS[7]) or '0')
local sequence = tonumber(ARGV[4])
if sequence > applied then
  redis.call('INCRBY', KEYS[2], ARGV[5])
  redis.call('SET', KEYS[7], sequence, 'EX', 86400)
end

local sum = 0
local nodes = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[5])) do
  local value = redis.call('GET', 'collective:node:' .. id)
  if value then
    sum = sum + tonumber(string.match(value, '^(%d+)'))
    table.insert(nodes, id)
    table.insert(nodes, value)
  else
    redis.call('SREM', KEYS[5], id)
  end
end
redis.call('SET', KEYS[1], sum)

local peak = tonumber(redis.call('GET', KEYS[4]) or '0')
local candidate = math.max(sum, tonumber(ARGV[6]))
if candidate > peak then
  peak = candidate
  redis.call('SET', KEYS[4], peak)
end

local won = {}
for i = 7, #ARGV do
  if redis.call('SADD', KEYS[3], ARGV[i]) == 1 then
    table.insert(won, ARGV[i])
  end
end

local total = tonumber(redis.call('GET', KEYS[2]) or '0')
return {sum, peak, total, won, redis.call('SMEMBERS', KEYS[3]), nodes}
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

RedisStore::RedisStore(const RedisEndpoint &endpoint, int tickIntervalMs, QObject *parent)
    : StateStore(parent),
      m_endpoint(endpoint),
      m_tickIntervalMs(tickIntervalMs),
      m_nodeId(QUuid::createUuid().toString(QUuid::Id128)),
      // A reply slower than a tick, or 2 s, means the server is stuck.
      m_replyTimeoutMs(qMax(2000, tickIntervalMs)),
      m_commands(endpoint, QStringLiteral("commands"), m_replyTimeoutMs, this),
      m_subscriber(endpoint, QStringLiteral("events"), m_replyTimeoutMs, this)
{
    connect(&m_commands, &RedisConnection::ready, this, &RedisStore::handleCommandsReady);
    connect(&m_commands, &RedisConnection::lost, this, &RedisStore::handleCommandsLost);
    connect(&m_subscriber, &RedisConnection::ready, this, &RedisStore::handleSubscriberReady);

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
        if (!m_commands.isReady())
            return;
        if (!m_inFlight) {
            sendBatch(0);
        } else if (!m_inFlightSent) {
            runBatch(); // a batch whose script failed is retried
        } else if (m_clock.elapsed() - m_inFlightSentAtMs > m_replyTimeoutMs) {
            // The connection's own watchdog should have caught this; a second
            // check here keeps a silent Redis from holding the batch for ever.
            m_commands.abandon(QStringLiteral("no reply to a report within %1 ms").arg(m_replyTimeoutMs));
        }
    });
}

RedisStore::~RedisStore() = default;

void RedisStore::open()
{
    qCInfo(lcRedis, "Connecting to Redis at %s as node %s.", qPrintable(m_endpoint.describe()),
           qPrintable(m_nodeId));
    setReady(false, QStringLiteral("connecting to Redis at %1").arg(m_endpoint.describe()));
    m_commands.open();
    m_subscriber.open();
}

void RedisStore::handleCommandsReady()
{
    if (m_outageLogged) {
        qCInfo(lcRedis, "Redis at %s is reachable again; flushing what this node owes.",
               qPrintable(m_endpoint.describe()));
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
                                     .arg(m_endpoint.describe(), reason);
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
    m_commands.command({QByteArrayLiteral("PUBLISH"), eventsChannel,
                        QJsonDocument(withNode).toJson(QJsonDocument::Compact)},
                       [](const redisReply *, const QString &) {});
}

void RedisStore::publishPresence(qint64 liveWitnesses)
{
    m_liveWitnesses = liveWitnesses;
    if (!m_commands.isReady())
        return;

    // The key is written before the event goes out, on the same connection,
    // so a node that hears the event and then sums the keys sees this count.
    ++m_version;
    m_commands.command({QByteArrayLiteral("SET"), nodeKey(), nodeValue(liveWitnesses, m_version),
                        QByteArrayLiteral("PX"), QByteArray::number(nodeKeyTtlMs())},
                       [](const redisReply *, const QString &) {});
    publish(QJsonObject{{QStringLiteral("event"), QStringLiteral("presence")},
                        {QStringLiteral("live"), liveWitnesses},
                        {QStringLiteral("version"), m_version}});
}

QByteArray RedisStore::nodeKey() const
{
    return QByteArrayLiteral("collective:node:") + m_nodeId.toLatin1();
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

    if (m_commands.isReady() && !m_inFlight) {
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
    Batch &batch = *m_inFlight;
    batch.version = ++m_version;
    const QByteArray key = nodeKey();

    QByteArrayList arguments{
            QByteArrayLiteral("EVAL"),
            reportScript,
            QByteArrayLiteral("7"),
            QByteArrayLiteral("global:concurrent_connections"),
            QByteArrayLiteral("global:total_connection_seconds"),
            QByteArrayLiteral("global:unlocked_milestones"),
            QByteArrayLiteral("global:peak_connections"),
            QByteArrayLiteral("collective:nodes"),
            key,
            key + QByteArrayLiteral(":applied"),
            m_nodeId.toLatin1(),
            nodeValue(batch.liveWitnesses, batch.version),
            QByteArray::number(nodeKeyTtlMs()),
            QByteArray::number(batch.sequence),
            QByteArray::number(batch.addedSeconds),
            QByteArray::number(batch.observedPeak),
    };
    for (const QString &claim : batch.claims)
        arguments.append(claim.toUtf8());

    m_inFlightSent = m_commands.command(arguments, [this](const redisReply *reply, const QString &error) {
        handleBatchReply(reply, error);
    });
    m_inFlightSentAtMs = m_clock.elapsed();
    if (m_inFlightSent && batch.reportId != 0)
        m_answerTimer.start();
    if (!m_inFlightSent && batch.reportId != 0) {
        // The connection went away between the check and the send: the batch
        // waits for the reconnect, and the report gets an estimate now.
        answerWithEstimate(batch.reportId);
        m_inFlight->reportId = 0;
    }
}

void RedisStore::handleBatchReply(const redisReply *reply, const QString &error)
{
    m_inFlightSent = false;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 6) {
        // The batch stays in flight and is resent after the reconnect; its
        // report is answered with an estimate so the tick still goes out.
        recordError();
        const QString reason = reply && reply->type == REDIS_REPLY_ERROR ? stringOf(reply) : error;
        if (reply && !m_scriptFailing)
            qCCritical(lcRedis, "The report script failed on Redis: %s. It is retried every half tick; check "
                                "that no other program writes the global:* keys with other types.",
                       qPrintable(reason));
        m_scriptFailing = reply != nullptr;
        if (m_inFlight && m_inFlight->reportId != 0) {
            answerWithEstimate(m_inFlight->reportId);
            m_inFlight->reportId = 0;
        }
        return;
    }

    const Batch batch = *m_inFlight;
    m_inFlight.reset();
    m_answerTimer.stop();
    if (m_scriptFailing) {
        qCInfo(lcRedis, "The report script runs on Redis again.");
        m_scriptFailing = false;
    }

    ReportResult result;
    result.reportId = batch.reportId;
    result.reportedLive = batch.liveWitnesses;
    result.state.concurrentConnections = integerOf(reply->element[0]);
    result.state.peakConnections = integerOf(reply->element[1]);
    result.state.totalConnectionSeconds = integerOf(reply->element[2]);
    for (size_t i = 0; i < reply->element[3]->elements; ++i)
        result.wonClaims.append(stringOf(reply->element[3]->element[i]));

    // SMEMBERS has no order; keep the known unlock order and append new ids.
    QStringList unlocked = m_lastKnown.unlockedMilestones;
    for (size_t i = 0; i < reply->element[4]->elements; ++i) {
        const QString id = stringOf(reply->element[4]->element[i]);
        if (!unlocked.contains(id))
            unlocked.append(id);
    }
    result.state.unlockedMilestones = unlocked;

    // Nodes missing from the reply have expired; the others keep whichever
    // count is newer, this reply's or a presence event's.
    QHash<QString, NodeCount> previous;
    previous.swap(m_nodeCounts);
    const redisReply *nodes = reply->element[5];
    for (size_t i = 0; i + 1 < nodes->elements; i += 2) {
        const QString id = stringOf(nodes->element[i]);
        if (id == m_nodeId)
            continue;
        const QList<QByteArray> value = QByteArray(nodes->element[i + 1]->str, int(nodes->element[i + 1]->len)).split(' ');
        if (previous.contains(id))
            m_nodeCounts.insert(id, previous.value(id));
        updateNodeCount(id, value.value(0).toLongLong(), value.value(1).toLongLong());
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
        if (m_commands.isReady())
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
        if (m_commands.isReady() && !m_inFlight) {
            sendBatch(0);
            finalSent = true;
        }
        else if (m_commands.isReady() && m_inFlight && !m_inFlightSent)
            runBatch();
        loop.processEvents(QEventLoop::WaitForMoreEvents, 50);
    }

    const bool flushed = settled();
    if (!flushed)
        qCCritical(lcRedis, "Redis did not take the final %lld seconds within %d ms; they are lost.",
                   m_owedSeconds + (m_inFlight ? m_inFlight->addedSeconds : 0), timeoutMs);
    m_commands.close();
    m_subscriber.close();
    setReady(false, QStringLiteral("the store is closed"));
    return flushed;
}

} // namespace collective
