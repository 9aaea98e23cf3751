// The Redis store's command channel: one Redis server, or a Redis Cluster
// whose keys live on several masters (cluster/clusterrouter.h).
//
// Every command names the key it is routed by. On one server the key is
// ignored. In a cluster it picks the master that owns the key's hash slot,
// so all keys of one command must share a slot.
#pragma once

#include "config/redisendpoint.h"
#include "store/redis/redisconnection.h"

#include <QObject>

namespace collective {

class RedisCommands : public QObject
{
    Q_OBJECT

public:
    using ReplyHandler = RedisConnection::ReplyHandler;

    using QObject::QObject;

    virtual void open() = 0;
    virtual void close() = 0;

    // True when a command sent now can reach the server that owns its key.
    virtual bool isReady() const = 0;

    // Sends a command routed by routingKey. Returns false (and never calls
    // the handler) when it cannot be sent now. A handler that gets no reply
    // gets an error: the connection was lost, or a cluster kept redirecting.
    virtual bool command(const QByteArray &routingKey, const QByteArrayList &arguments,
                         ReplyHandler handler) = 0;

    // The server the pub/sub connection should use next. In a cluster any
    // node delivers every PUBLISH, so this walks the known nodes after a loss.
    virtual RedisEndpoint subscriberEndpoint() = 0;

    // For logs: the server, or the seeds of a cluster.
    virtual QString describe() const = 0;

    // Gives up on the connections as if they had been lost, and reconnects.
    // Used when a reply is overdue.
    virtual void abandon(const QString &reason) = 0;

Q_SIGNALS:
    void ready();
    void lost(const QString &reason);
};

// One Redis server over one connection.
class SingleRedis final : public RedisCommands
{
    Q_OBJECT

public:
    SingleRedis(const RedisEndpoint &endpoint, int commandTimeoutMs, QObject *parent = nullptr);

    void open() override { m_connection.open(); }
    void close() override { m_connection.close(); }
    bool isReady() const override { return m_connection.isReady(); }
    bool command(const QByteArray &routingKey, const QByteArrayList &arguments, ReplyHandler handler) override;
    RedisEndpoint subscriberEndpoint() override { return m_endpoint; }
    QString describe() const override { return m_endpoint.describe(); }
    void abandon(const QString &reason) override { m_connection.abandon(reason); }

private:
    const RedisEndpoint m_endpoint;
    RedisConnection m_connection;
};

} // namespace collective
