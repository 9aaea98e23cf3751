// The server's settings, read once at start from the environment and the
// command line. Every setting has an environment variable and a flag of the
// same name in lower case with dashes: PORT is also --port, and
// COLLECTIVE_TICK_INTERVAL_MS is also --collective-tick-interval-ms. A flag
// wins over the environment. A bad value stops start-up with a message that
// names the variable and the accepted form.
#pragma once

#include <QHostAddress>
#include <QString>
#include <QStringList>

#include <optional>

namespace collective {

enum class Environment { Dev, Prod };

struct Config
{
    // PORT: HTTP and WebSocket share it. 0 lets the kernel choose (for tests).
    quint16 port = 4000;

    // COLLECTIVE_BIND: the address to listen on. Dev listens on loopback only,
    // so a development server is not reachable from the network by accident.
    QHostAddress bindAddress = QHostAddress::LocalHost;

    // MIX_ENV or COLLECTIVE_ENV: dev or prod. The name MIX_ENV is kept for
    // operators who know the Phoenix seed.
    Environment environment = Environment::Dev;

    // PHX_HOST: the public host names, comma-separated; "*.example.org"
    // matches every subdomain. A browser's WebSocket upgrade is accepted only
    // when its Origin host is one of them (in dev, localhost too), as
    // Phoenix's check_origin does; a client that sends no Origin (not a
    // browser) is accepted.
    QStringList publicHosts{QStringLiteral("localhost")};

    // REDIS_URL: empty selects the embedded store. With REDIS_CLUSTER it may
    // list several cluster nodes, comma-separated, as seeds.
    QString redisUrl;

    // REDIS_CLUSTER: the servers of REDIS_URL are nodes of a Redis Cluster;
    // the store finds the other nodes through them.
    bool redisCluster = false;

    // SECRET_KEY_BASE: accepted for compatibility with the seed's deployment.
    // The Collective has no cookies, sessions or signed tokens, so the key
    // protects nothing today; when set it must be at least 64 characters.
    QString secretKeyBase;

    // COLLECTIVE_TICK_INTERVAL_MS: how often Chronos adds time and broadcasts
    // a tick. 5 s keeps the broadcast cost low while the counter feels alive.
    int tickIntervalMs = 5000;

    // COLLECTIVE_PRESENCE_INTERVAL_MS: presence broadcasts are coalesced to at
    // most one per interval; 250 ms is four a second.
    int presenceIntervalMs = 250;

    // COLLECTIVE_DATA_DIR (or systemd's STATE_DIRECTORY): where the embedded
    // store keeps its file.
    QString dataDir = QStringLiteral("data");

    // COLLECTIVE_THREADS: event-loop threads that own sockets. Default: the
    // number of cores.
    int threads = 0;

    // COLLECTIVE_IDLE_TIMEOUT_MS: a socket that sends no frame for this long
    // is closed. The phoenix client sends a heartbeat every 30 s, so 60 s
    // tolerates one lost heartbeat.
    int idleTimeoutMs = 60000;

    // COLLECTIVE_MAX_FRAME_BYTES: the largest client frame. A join or a
    // heartbeat is under 100 bytes; 4 KiB leaves room and bounds the parser.
    int maxFrameBytes = 4096;

    // COLLECTIVE_MAX_CONNECTIONS: open WebSockets this process admits; later
    // upgrades get 503. 0 means the open-file limit less a reserve, so the
    // process never runs into EMFILE.
    int maxConnections = 0;

    // COLLECTIVE_MAX_CONNECTIONS_PER_ADDRESS: open connections from one
    // source address. A school or gallery behind one NAT address may bring
    // thousands of witnesses, so the default only stops one machine from
    // taking every descriptor.
    int maxConnectionsPerAddress = 5000;

    // COLLECTIVE_MAX_NEW_CONNECTIONS_PER_MINUTE: new connections from one
    // source address per minute; a crowd reloading at once stays under it.
    int maxNewConnectionsPerMinute = 3000;

    // COLLECTIVE_HANDSHAKE_TIMEOUT_MS: a connection that has not become a
    // WebSocket this long after it was accepted is closed. Plain HTTP
    // requests (health checks, the page) finish far sooner.
    int handshakeTimeoutMs = 10000;

    // COLLECTIVE_MAX_BACKLOG_BYTES: unsent bytes a socket may hold before it
    // is closed with 1008, so a witness that stops reading cannot grow the
    // server's memory. 64 KiB is hundreds of ticks.
    int maxBacklogBytes = 65536;

    // COLLECTIVE_SHARE_PORT: 1 lets several server processes share the port
    // on purpose (SO_REUSEPORT). Off by default, so a second server started
    // by mistake on a busy port stops instead of quietly taking half of the
    // connections.
    bool sharePort = false;

    // COLLECTIVE_DRAIN_WINDOW_MS: on SIGTERM, witnesses are closed in batches
    // spread over this window, so their reconnects do not arrive together.
    int drainWindowMs = 5000;
};

struct ConfigResult
{
    std::optional<Config> config;
    QString error; // names the variable and the accepted form
    bool helpRequested = false;
};

// True when text is a REDIS_URL of an accepted form: redis://[:password@]host:port[/db]
// with db 0 to 15, or unix:///path/to/redis.sock, or several of these
// separated by commas.
bool isValidRedisUrl(const QString &text);

// Reads the settings. `environment` holds NAME=value entries (as
// QProcessEnvironment::toStringList() returns them); `arguments` is the
// command line without the program name.
ConfigResult parseConfig(const QStringList &environment, const QStringList &arguments);

// The help text for --help: every variable, its default and its unit.
QString configHelp();

// A one-line summary for the start-up log. Holds no secret.
QString describeConfig(const Config &config);

} // namespace collective
