// Slot map, redirections and readiness of the cluster router; see
// clusterrouter.h.
#include "store/redis/cluster/clusterrouter.h"

#include "store/redis/cluster/hashslot.h"

#include <QSet>

#include <hiredis/hiredis.h>

namespace collective {

Q_LOGGING_CATEGORY(lcRedisCluster, "collective.store.redis.cluster")

namespace {

constexpr int maxRedirections = 5;
constexpr int refreshIntervalMs = 250;
constexpr int firstRetryPauseMs = 25;
constexpr int maxRetryPauseMs = 500;

QString addressOf(const QString &host, int port)
{
    return QStringLiteral("%1:%2").arg(host).arg(port);
}

QString textOf(const redisReply *reply)
{
    return QString::fromUtf8(reply->str, int(reply->len));
}

// "MOVED 3999 127.0.0.1:6381" or "ASK 3999 127.0.0.1:6381": slot and address.
bool parseRedirection(const QString &error, int *slot, QString *address)
{
    const QStringList parts = error.split(QLatin1Char(' '));
    if (parts.size() != 3)
        return false;
    bool ok = false;
    *slot = parts[1].toInt(&ok);
    *address = parts[2];
    // An empty host ("MOVED 3999 :6381") means the node that sent the reply.
    return ok && *slot >= 0 && *slot < clusterSlotCount && address->contains(QLatin1Char(':'));
}

} // namespace

struct ClusterRouter::Request
{
    QByteArrayList arguments;
    ReplyHandler handler;
    int slot = 0;
    int redirections = 0;
    int retries = 0;
    qint64 deadlineMs = 0;
    bool finished = false;
};

ClusterRouter::ClusterRouter(const QList<RedisEndpoint> &seeds, int commandTimeoutMs, QObject *parent)
    : RedisCommands(parent), m_seeds(seeds), m_commandTimeoutMs(commandTimeoutMs), m_slotOwners(clusterSlotCount)
{
    m_clock.start();
    m_refreshTimer.setInterval(refreshIntervalMs);
    connect(&m_refreshTimer, &QTimer::timeout, this, [this] {
        if (m_refreshNeeded || !m_ready)
            refreshSlots();
    });
    m_expiryTimer.setInterval(100);
    connect(&m_expiryTimer, &QTimer::timeout, this, &ClusterRouter::expireWaiting);
}

ClusterRouter::~ClusterRouter()
{
    close();
}

void ClusterRouter::open()
{
    m_open = true;
    for (const RedisEndpoint &seed : m_seeds)
        nodeFor(addressOf(seed.host, seed.port));
    m_refreshTimer.start();
    m_expiryTimer.start();
}

void ClusterRouter::close()
{
    m_open = false;
    m_refreshTimer.stop();
    m_expiryTimer.stop();
    const QHash<QString, Node *> nodes = std::exchange(m_nodes, {});
    for (Node *node : nodes) {
        for (const auto &request : node->waiting)
            finish(request, nullptr, QStringLiteral("the cluster connection was closed"));
        node->connection->close();
        node->connection->deleteLater();
        delete node;
    }
    m_ready = false;
}

QString ClusterRouter::describe() const
{
    QStringList seeds;
    for (const RedisEndpoint &seed : m_seeds)
        seeds.append(seed.describe());
    return QStringLiteral("cluster %1").arg(seeds.join(QLatin1Char(',')));
}

RedisEndpoint ClusterRouter::subscriberEndpoint()
{
    const QList<RedisEndpoint> &candidates = m_knownNodes.isEmpty() ? m_seeds : m_knownNodes;
    m_subscriberIndex = (m_subscriberIndex + 1) % int(candidates.size());
    return candidates.at(m_subscriberIndex);
}

void ClusterRouter::abandon(const QString &reason)
{
    for (Node *node : std::as_const(m_nodes))
        node->connection->abandon(reason);
}

RedisEndpoint ClusterRouter::endpointOf(const QString &host, int port) const
{
    RedisEndpoint endpoint;
    endpoint.host = host;
    endpoint.port = port;
    endpoint.password = m_seeds.isEmpty() ? QString() : m_seeds.first().password;
    return endpoint;
}

ClusterRouter::Node *ClusterRouter::nodeFor(const QString &address)
{
    if (Node *node = m_nodes.value(address))
        return node;

    const qsizetype colon = address.lastIndexOf(QLatin1Char(':'));
    auto *node = new Node;
    node->endpoint = endpointOf(address.left(colon), address.mid(colon + 1).toInt());
    node->connection = new RedisConnection(node->endpoint, QStringLiteral("cluster %1").arg(address),
                                           m_commandTimeoutMs, this);
    connect(node->connection, &RedisConnection::ready, this, [this, address] { handleNodeReady(address); });
    connect(node->connection, &RedisConnection::lost, this,
            [this, address](const QString &reason) { handleNodeLost(address, reason); });
    m_nodes.insert(address, node);
    if (m_open)
        node->connection->open();
    return node;
}

void ClusterRouter::handleNodeReady(const QString &address)
{
    Node *node = m_nodes.value(address);
    if (!node)
        return;
    const QList<std::shared_ptr<Request>> waiting = std::exchange(node->waiting, {});
    for (const auto &request : waiting)
        send(request, node, false);

    if (!m_mapLoaded || m_refreshNeeded)
        refreshSlots();
    updateReadiness();
}

void ClusterRouter::handleNodeLost(const QString &address, const QString &reason)
{
    // A master that went away may have been replaced; read the map again.
    if (std::find(m_slotOwners.cbegin(), m_slotOwners.cend(), address) != m_slotOwners.cend()) {
        m_refreshNeeded = true;
        updateReadiness(QStringLiteral("the master at %1 is unreachable (%2)").arg(address, reason));
    }
}

void ClusterRouter::refreshSlots()
{
    if (!m_open || m_refreshInFlight)
        return;

    // Any ready node can tell the map; a master of the current map first.
    Node *source = nullptr;
    QString sourceAddress;
    for (auto it = m_nodes.cbegin(); it != m_nodes.cend(); ++it) {
        if (it.value()->connection->isReady()) {
            source = it.value();
            sourceAddress = it.key();
            break;
        }
    }
    if (!source) {
        // Every connection is down: the seeds may know more than the old map.
        for (const RedisEndpoint &seed : m_seeds)
            nodeFor(addressOf(seed.host, seed.port));
        return;
    }

    m_refreshInFlight = source->connection->command(
            {QByteArrayLiteral("CLUSTER"), QByteArrayLiteral("SLOTS")},
            [this, sourceAddress](const redisReply *reply, const QString &error) {
                m_refreshInFlight = false;
                if (!reply || reply->type != REDIS_REPLY_ARRAY) {
                    const QString reason = reply && reply->type == REDIS_REPLY_ERROR ? textOf(reply) : error;
                    qCWarning(lcRedisCluster, "CLUSTER SLOTS failed on %s: %s. Check that REDIS_URL names nodes "
                                              "of a Redis Cluster (cluster-enabled yes).",
                              qPrintable(sourceAddress), qPrintable(reason));
                    return;
                }
                if (applySlots(reply, sourceAddress))
                    m_refreshNeeded = false;
            });
}

bool ClusterRouter::applySlots(const redisReply *reply, const QString &sourceAddress)
{
    // Each entry: [first slot, last slot, [host, port, id, ...] master, replicas...].
    const QString sourceHost = sourceAddress.left(sourceAddress.lastIndexOf(QLatin1Char(':')));
    std::vector<QString> owners(clusterSlotCount);
    QSet<QString> masters;
    QList<RedisEndpoint> known;
    QSet<QString> knownAddresses;
    int covered = 0;

    for (size_t i = 0; i < reply->elements; ++i) {
        const redisReply *range = reply->element[i];
        if (range->type != REDIS_REPLY_ARRAY || range->elements < 3)
            continue;
        const qint64 first = range->element[0]->integer;
        const qint64 last = range->element[1]->integer;
        if (first < 0 || last >= clusterSlotCount || first > last)
            continue;

        QString master;
        for (size_t n = 2; n < range->elements; ++n) {
            const redisReply *entry = range->element[n];
            if (entry->type != REDIS_REPLY_ARRAY || entry->elements < 2)
                continue;
            QString host = textOf(entry->element[0]);
            if (host.isEmpty() || host == QLatin1String("?"))
                host = sourceHost;
            const QString address = addressOf(host, int(entry->element[1]->integer));
            if (n == 2)
                master = address;
            if (!knownAddresses.contains(address)) {
                knownAddresses.insert(address);
                known.append(endpointOf(host, int(entry->element[1]->integer)));
            }
        }
        if (master.isEmpty())
            continue;
        masters.insert(master);
        for (qint64 slot = first; slot <= last; ++slot)
            owners[std::size_t(slot)] = master;
        covered += int(last - first + 1);
    }

    if (covered == 0) {
        qCWarning(lcRedisCluster, "The cluster node %s serves no slots yet; asking again. Create the cluster "
                                  "with redis-cli --cluster create.",
                  qPrintable(sourceAddress));
        return false;
    }

    const bool first = !m_mapLoaded;
    m_slotOwners = std::move(owners);
    m_knownNodes = known;
    m_mapLoaded = true;
    for (const QString &master : std::as_const(masters))
        nodeFor(master);
    if (first || covered < clusterSlotCount)
        qCInfo(lcRedisCluster, "Redis Cluster slot map read from %s: %lld masters, %lld nodes, %d of %d slots served.",
               qPrintable(sourceAddress), qint64(masters.size()), qint64(known.size()), covered, clusterSlotCount);
    else
        qCDebug(lcRedisCluster, "Redis Cluster slot map read again from %s: %lld masters.", qPrintable(sourceAddress),
                qint64(masters.size()));

    // Connections to nodes that are no longer masters are closed after this
    // reply's handler has returned, never from inside it.
    if (!m_prunePending) {
        m_prunePending = true;
        QMetaObject::invokeMethod(this, &ClusterRouter::pruneNodes, Qt::QueuedConnection);
    }
    updateReadiness(covered < clusterSlotCount
                            ? QStringLiteral("%1 of %2 hash slots have no master").arg(clusterSlotCount - covered).arg(clusterSlotCount)
                            : QString());
    return covered == clusterSlotCount;
}

void ClusterRouter::pruneNodes()
{
    m_prunePending = false;
    const QSet<QString> masters(m_slotOwners.cbegin(), m_slotOwners.cend());
    const QStringList addresses = m_nodes.keys();
    for (const QString &address : addresses) {
        if (masters.contains(address))
            continue;
        Node *node = m_nodes.take(address);
        node->connection->close();
        node->connection->deleteLater();
        // What waited for this node goes where the map now points.
        for (const auto &request : std::as_const(node->waiting))
            dispatch(request, m_slotOwners[std::size_t(request->slot)], false);
        delete node;
    }
}

void ClusterRouter::updateReadiness(const QString &reason)
{
    bool ready = m_open && m_mapLoaded;
    QString why = reason;
    if (ready) {
        QSet<QString> checked;
        for (const QString &owner : m_slotOwners) {
            if (owner.isEmpty()) {
                ready = false;
                break;
            }
            if (checked.contains(owner))
                continue;
            checked.insert(owner);
            Node *node = m_nodes.value(owner);
            if (!node || !node->connection->isReady()) {
                ready = false;
                if (why.isEmpty())
                    why = QStringLiteral("no connection to the master at %1").arg(owner);
                break;
            }
        }
    }
    if (ready == m_ready)
        return;
    m_ready = ready;
    if (ready) {
        qCInfo(lcRedisCluster, "Every hash slot of the Redis Cluster has a reachable master.");
        Q_EMIT this->ready();
    } else {
        Q_EMIT lost(why.isEmpty() ? QStringLiteral("the cluster lost a master") : why);
    }
}

bool ClusterRouter::command(const QByteArray &routingKey, const QByteArrayList &arguments, ReplyHandler handler)
{
    if (!m_ready)
        return false;
    auto request = std::make_shared<Request>();
    request->arguments = arguments;
    request->handler = std::move(handler);
    request->slot = hashSlotOf(routingKey);
    request->deadlineMs = m_clock.elapsed() + m_commandTimeoutMs;
    dispatch(request, m_slotOwners[std::size_t(request->slot)], false);
    return true;
}

void ClusterRouter::dispatch(const std::shared_ptr<Request> &request, const QString &address, bool asking)
{
    if (!m_open) {
        finish(request, nullptr, QStringLiteral("the cluster connection was closed"));
        return;
    }
    if (address.isEmpty()) {
        m_refreshNeeded = true;
        finish(request, nullptr, QStringLiteral("hash slot %1 has no master").arg(request->slot));
        return;
    }
    Node *node = nodeFor(address);
    if (node->connection->isReady())
        send(request, node, asking);
    else if (asking)
        finish(request, nullptr, QStringLiteral("the node at %1 named by ASK is unreachable").arg(address));
    else
        node->waiting.append(request);
}

void ClusterRouter::send(const std::shared_ptr<Request> &request, Node *node, bool asking)
{
    // ASKING holds for the next command on the same connection only, and
    // hiredis keeps a connection's commands in order.
    if (asking)
        node->connection->command({QByteArrayLiteral("ASKING")}, [](const redisReply *, const QString &) {});
    const QString address = m_nodes.key(node);
    const bool sent = node->connection->command(
            request->arguments, [this, request, address](const redisReply *reply, const QString &error) {
                handleReply(request, address, reply, error);
            });
    if (!sent)
        node->waiting.append(request);
}

void ClusterRouter::handleReply(const std::shared_ptr<Request> &request, const QString &address,
                                const redisReply *reply, const QString &error)
{
    if (!reply) {
        m_refreshNeeded = true;
        finish(request, nullptr, QStringLiteral("%1 (node %2)").arg(error, address));
        return;
    }
    if (reply->type != REDIS_REPLY_ERROR) {
        finish(request, reply, {});
        return;
    }

    const QString text = textOf(reply);
    const bool moved = text.startsWith(QLatin1String("MOVED "));
    const bool ask = text.startsWith(QLatin1String("ASK "));
    if (moved || ask) {
        int slot = 0;
        QString target;
        if (!parseRedirection(text, &slot, &target)) {
            finish(request, reply, {});
            return;
        }
        if (target.startsWith(QLatin1Char(':')))
            target.prepend(address.left(address.lastIndexOf(QLatin1Char(':'))));
        ++m_redirections;
        if (++request->redirections > maxRedirections) {
            finish(request, nullptr,
                   QStringLiteral("more than %1 redirections for hash slot %2; the cluster is resharding or "
                                  "misconfigured")
                           .arg(maxRedirections)
                           .arg(slot));
            return;
        }
        if (moved) {
            // The slot has a new owner for good; the rest of the map may
            // have changed too, so it is read again soon.
            qCDebug(lcRedisCluster, "Hash slot %d moved to %s.", slot, qPrintable(target));
            m_slotOwners[std::size_t(slot)] = target;
            m_refreshNeeded = true;
        } else {
            qCDebug(lcRedisCluster, "Asking %s once for hash slot %d, which is being moved there.",
                    qPrintable(target), slot);
        }
        dispatch(request, target, ask);
        return;
    }

    if (text.startsWith(QLatin1String("TRYAGAIN")) || text.startsWith(QLatin1String("CLUSTERDOWN"))
        || text.startsWith(QLatin1String("LOADING"))) {
        if (text.startsWith(QLatin1String("CLUSTERDOWN")))
            m_refreshNeeded = true;
        retryLater(request, text);
        return;
    }
    finish(request, reply, {});
}

void ClusterRouter::retryLater(const std::shared_ptr<Request> &request, const QString &error)
{
    const int pauseMs = qMin(maxRetryPauseMs, firstRetryPauseMs << qMin(request->retries, 8));
    ++request->retries;
    if (m_clock.elapsed() + pauseMs > request->deadlineMs) {
        finish(request, nullptr, QStringLiteral("%1 (still after %2 tries)").arg(error).arg(request->retries));
        return;
    }
    QTimer::singleShot(pauseMs, this, [this, request] {
        if (!request->finished)
            dispatch(request, m_slotOwners[std::size_t(request->slot)], false);
    });
}

void ClusterRouter::finish(const std::shared_ptr<Request> &request, const redisReply *reply, const QString &error)
{
    if (request->finished)
        return;
    request->finished = true;
    request->handler(reply, error);
}

void ClusterRouter::expireWaiting()
{
    // Collected first: a handler may send again, which may add nodes.
    const qint64 now = m_clock.elapsed();
    QList<QPair<std::shared_ptr<Request>, QString>> expired;
    for (auto it = m_nodes.cbegin(); it != m_nodes.cend(); ++it) {
        QList<std::shared_ptr<Request>> &waiting = it.value()->waiting;
        for (qsizetype i = waiting.size() - 1; i >= 0; --i) {
            if (waiting[i]->deadlineMs <= now)
                expired.append({waiting.takeAt(i), it.key()});
        }
    }
    for (const auto &[request, address] : std::as_const(expired))
        finish(request, nullptr, QStringLiteral("no connection to %1 within %2 ms").arg(address).arg(m_commandTimeoutMs));
}

} // namespace collective
