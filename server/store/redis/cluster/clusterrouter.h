// A small Redis Cluster client for the Redis store, on hiredis 0.14.
//
// No cluster client builds on Debian 12's hiredis 0.14.1 (hiredis-cluster
// and libvalkey need hiredis 1.x or bring their own), so this router does
// only what the store needs:
//   - one RedisConnection per master, opened when the slot map names it;
//   - the slot map from CLUSTER SLOTS, requested from the seeds first and any
//     reachable node afterwards;
//   - MOVED: the slot's new owner is written into the map, the command goes
//     there, and the whole map is read again soon;
//   - ASK: ASKING then the command once on the node named, map unchanged;
//   - TRYAGAIN, CLUSTERDOWN and LOADING: the command is retried with a
//     growing pause until its deadline;
//   - at most five redirections per command, then the command fails.
//
// It is ready while every slot has a master with a ready connection. When a
// master's connection is lost, the router emits lost() and reads the map
// every quarter second until a replica has taken the slots over, then emits
// ready().
//
// NOTE: commands are not pipelined across masters, and nothing is read from
// replicas. The store sends a handful of commands per tick, so neither is
// worth its code here. Multi-key commands must keep their keys in one slot.
#pragma once

#include "store/redis/rediscommands.h"

#include <QElapsedTimer>
#include <QHash>
#include <QList>
#include <QLoggingCategory>
#include <QTimer>

#include <memory>
#include <vector>

namespace collective {

Q_DECLARE_LOGGING_CATEGORY(lcRedisCluster)

class ClusterRouter final : public RedisCommands
{
    Q_OBJECT

public:
    // The seeds are any nodes of the cluster; the rest is found through them.
    // Their password, if any, is used for every node.
    ClusterRouter(const QList<RedisEndpoint> &seeds, int commandTimeoutMs, QObject *parent = nullptr);
    ~ClusterRouter() override;

    void open() override;
    void close() override;
    bool isReady() const override { return m_ready; }
    bool command(const QByteArray &routingKey, const QByteArrayList &arguments, ReplyHandler handler) override;
    RedisEndpoint subscriberEndpoint() override;
    QString describe() const override;
    void abandon(const QString &reason) override;

    // Redirections followed since start (MOVED and ASK), for metrics and tests.
    qint64 redirections() const { return m_redirections; }

private:
    struct Request;
    struct Node
    {
        RedisEndpoint endpoint;
        RedisConnection *connection = nullptr;
        QList<std::shared_ptr<Request>> waiting; // sent once the connection is ready
    };

    // Returns a node's endpoint, with the seeds' password.
    RedisEndpoint endpointOf(const QString &host, int port) const;
    Node *nodeFor(const QString &address);
    void handleNodeReady(const QString &address);
    void handleNodeLost(const QString &address, const QString &reason);
    void refreshSlots();
    bool applySlots(const redisReply *reply, const QString &sourceAddress);
    void pruneNodes();
    void updateReadiness(const QString &reason = {});
    void dispatch(const std::shared_ptr<Request> &request, const QString &address, bool asking);
    void send(const std::shared_ptr<Request> &request, Node *node, bool asking);
    void handleReply(const std::shared_ptr<Request> &request, const QString &address, const redisReply *reply,
                     const QString &error);
    void retryLater(const std::shared_ptr<Request> &request, const QString &error);
    void finish(const std::shared_ptr<Request> &request, const redisReply *reply, const QString &error);
    void expireWaiting();

    const QList<RedisEndpoint> m_seeds;
    const int m_commandTimeoutMs;

    bool m_open = false;
    bool m_ready = false;
    bool m_mapLoaded = false;
    bool m_refreshNeeded = false;
    bool m_refreshInFlight = false;
    bool m_prunePending = false;
    std::vector<QString> m_slotOwners;   // master address per slot, empty when unserved
    QList<RedisEndpoint> m_knownNodes;   // masters and replicas of the last map
    QHash<QString, Node *> m_nodes;      // by "host:port"
    int m_subscriberIndex = -1;
    qint64 m_redirections = 0;

    QTimer m_refreshTimer; // reads the map again while it is wanted
    QTimer m_expiryTimer;  // fails requests that waited too long for a connection
    QElapsedTimer m_clock;
};

} // namespace collective
