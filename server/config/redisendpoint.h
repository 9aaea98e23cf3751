// The location of a Redis server, as given by REDIS_URL:
//   redis://[:password@]host:port[/db]
//   unix:///path/to/redis.sock[?db=N]   (a password may be given as
//                                        unix://:password@/path)
#pragma once

#include <QString>

#include <optional>

namespace collective {

struct RedisEndpoint
{
    QString host;       // empty for a unix socket
    int port = 0;
    QString socketPath; // set for unix://
    QString password;   // empty: no AUTH
    int database = 0;

    // host:port or the socket path, for logs. Never contains the password.
    QString describe() const;
};

// Parses a REDIS_URL. Returns nothing and sets *error on a malformed URL.
std::optional<RedisEndpoint> parseRedisUrl(const QString &url, QString *error);

// Parses a REDIS_URL that may list several servers, comma-separated: the
// seeds of a Redis Cluster. Returns nothing and sets *error when one of
// them is malformed, or when a cluster seed is a unix socket or names a
// database other than 0 (a cluster has only database 0).
std::optional<QList<RedisEndpoint>> parseRedisSeeds(const QString &urls, bool cluster, QString *error);

} // namespace collective
