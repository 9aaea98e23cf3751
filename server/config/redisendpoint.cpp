// REDIS_URL parsing; the accepted forms are listed in redisendpoint.h.
#include "config/redisendpoint.h"

#include <QUrl>
#include <QUrlQuery>

namespace collective {

QString RedisEndpoint::describe() const
{
    return socketPath.isEmpty() ? QStringLiteral("%1:%2").arg(host).arg(port) : socketPath;
}

std::optional<RedisEndpoint> parseRedisUrl(const QString &text, QString *error)
{
    const QUrl url(text, QUrl::StrictMode);
    const QString expected =
            QStringLiteral("expected redis://[:password@]host:port[/db] or unix:///path/to/redis.sock[?db=N]");
    if (!url.isValid()) {
        *error = QStringLiteral("REDIS_URL is not a valid URL; %1").arg(expected);
        return std::nullopt;
    }

    RedisEndpoint endpoint;
    endpoint.password = url.password(QUrl::FullyDecoded);
    bool ok = true;

    if (url.scheme() == QLatin1String("unix")) {
        endpoint.socketPath = url.path();
        const QString db = QUrlQuery(url).queryItemValue(QStringLiteral("db"));
        if (!db.isEmpty())
            endpoint.database = db.toInt(&ok);
        if (endpoint.socketPath.isEmpty() || !url.host().isEmpty()) {
            *error = QStringLiteral("REDIS_URL needs a socket path after unix://; %1").arg(expected);
            return std::nullopt;
        }
    } else if (url.scheme() == QLatin1String("redis")) {
        endpoint.host = url.host();
        endpoint.port = url.port();
        const QString path = url.path();
        if (path.size() > 1)
            endpoint.database = path.mid(1).toInt(&ok);
        if (endpoint.host.isEmpty() || endpoint.port < 1) {
            *error = QStringLiteral("REDIS_URL needs a host and a port; %1").arg(expected);
            return std::nullopt;
        }
    } else {
        *error = QStringLiteral("REDIS_URL has the scheme '%1'; %2").arg(url.scheme(), expected);
        return std::nullopt;
    }

    if (!ok || endpoint.database < 0 || endpoint.database > 15) {
        *error = QStringLiteral("REDIS_URL names a database that is not a number from 0 to 15");
        return std::nullopt;
    }
    return endpoint;
}

std::optional<QList<RedisEndpoint>> parseRedisSeeds(const QString &urls, bool cluster, QString *error)
{
    QList<RedisEndpoint> seeds;
    for (const QString &url : urls.split(QLatin1Char(','), Qt::SkipEmptyParts)) {
        const auto endpoint = parseRedisUrl(url.trimmed(), error);
        if (!endpoint)
            return std::nullopt;
        if (cluster && (!endpoint->socketPath.isEmpty() || endpoint->database != 0)) {
            *error = QStringLiteral("REDIS_URL names %1, but a Redis Cluster is reached over TCP and has only "
                                    "database 0")
                             .arg(url.trimmed());
            return std::nullopt;
        }
        seeds.append(*endpoint);
    }
    if (seeds.isEmpty()) {
        *error = QStringLiteral("REDIS_URL names no server");
        return std::nullopt;
    }
    if (!cluster && seeds.size() > 1) {
        *error = QStringLiteral("REDIS_URL lists %1 servers; several servers are the seeds of a Redis Cluster, "
                                "so set REDIS_CLUSTER=1 too")
                         .arg(seeds.size());
        return std::nullopt;
    }
    return seeds;
}

} // namespace collective
