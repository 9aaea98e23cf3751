// The single-server side of RedisCommands; see rediscommands.h.
#include "store/redis/rediscommands.h"

namespace collective {

SingleRedis::SingleRedis(const RedisEndpoint &endpoint, int commandTimeoutMs, QObject *parent)
    : RedisCommands(parent),
      m_endpoint(endpoint),
      m_connection(endpoint, QStringLiteral("commands"), commandTimeoutMs, this)
{
    connect(&m_connection, &RedisConnection::ready, this, &RedisCommands::ready);
    connect(&m_connection, &RedisConnection::lost, this, &RedisCommands::lost);
}

bool SingleRedis::command(const QByteArray &, const QByteArrayList &arguments, ReplyHandler handler)
{
    return m_connection.command(arguments, std::move(handler));
}

} // namespace collective
