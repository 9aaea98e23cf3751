// Reading and validating the settings described in config.h.
#include "config/config.h"

#include "config/redisendpoint.h"

#include <QHash>
#include <QThread>
#include <QUrl>

namespace collective {

namespace {

// One setting: its variable, the accepted form for messages, its default for
// the help text and how to store a valid value.
struct Setting
{
    const char *variable;
    const char *form;
    const char *defaultText;
    const char *help;
    // Stores the value in config; returns false when it is not of the form.
    bool (*apply)(const QString &value, Config *config);
};

bool parseInt(const QString &value, int min, int max, int *out)
{
    bool ok = false;
    const int number = value.trimmed().toInt(&ok);
    if (!ok || number < min || number > max)
        return false;
    *out = number;
    return true;
}

// "0" or "1".
bool parseSwitch(const QString &value, bool *out)
{
    const QString flag = value.trimmed();
    if (flag != QLatin1String("0") && flag != QLatin1String("1"))
        return false;
    *out = flag == QLatin1String("1");
    return true;
}

bool applyPort(const QString &value, Config *config)
{
    int port = 0;
    if (!parseInt(value, 0, 65535, &port))
        return false;
    config->port = static_cast<quint16>(port);
    return true;
}

bool applyBind(const QString &value, Config *config)
{
    QHostAddress address;
    if (!address.setAddress(value.trimmed()))
        return false;
    config->bindAddress = address;
    return true;
}

bool applyEnvironment(const QString &value, Config *config)
{
    const QString name = value.trimmed().toLower();
    if (name == QLatin1String("dev") || name == QLatin1String("test"))
        config->environment = Environment::Dev;
    else if (name == QLatin1String("prod"))
        config->environment = Environment::Prod;
    else
        return false;
    return true;
}

bool applyPublicHosts(const QString &value, Config *config)
{
    // Host names without scheme, path or port; "*." may lead a pattern.
    QStringList hosts;
    for (const QString &entry : value.split(QLatin1Char(','), Qt::SkipEmptyParts)) {
        const QString host = entry.trimmed().toLower();
        const QString bare = host.startsWith(QLatin1String("*.")) ? host.mid(2) : host;
        const QUrl url(QStringLiteral("http://") + bare);
        if (bare.isEmpty() || !url.isValid() || url.host() != bare || url.port() != -1)
            return false;
        hosts.append(host);
    }
    if (hosts.isEmpty())
        return false;
    config->publicHosts = hosts;
    return true;
}

bool applyRedisUrl(const QString &value, Config *config)
{
    const QString url = value.trimmed();
    if (!url.isEmpty() && !isValidRedisUrl(url))
        return false;
    config->redisUrl = url;
    return true;
}

bool applyRedisCluster(const QString &value, Config *config)
{
    return parseSwitch(value, &config->redisCluster);
}

bool applySecretKeyBase(const QString &value, Config *config)
{
    if (!value.isEmpty() && value.size() < 64)
        return false;
    config->secretKeyBase = value;
    return true;
}

bool applyTickInterval(const QString &value, Config *config)
{
    return parseInt(value, 100, 600000, &config->tickIntervalMs);
}

bool applyPresenceInterval(const QString &value, Config *config)
{
    return parseInt(value, 50, 60000, &config->presenceIntervalMs);
}

bool applyDataDir(const QString &value, Config *config)
{
    if (value.trimmed().isEmpty())
        return false;
    config->dataDir = value.trimmed();
    return true;
}

bool applyThreads(const QString &value, Config *config)
{
    return parseInt(value, 1, 256, &config->threads);
}

bool applyIdleTimeout(const QString &value, Config *config)
{
    return parseInt(value, 1000, 3600000, &config->idleTimeoutMs);
}

bool applyMaxFrameBytes(const QString &value, Config *config)
{
    return parseInt(value, 256, 1048576, &config->maxFrameBytes);
}

bool applyMaxConnections(const QString &value, Config *config)
{
    return parseInt(value, 0, 100000000, &config->maxConnections);
}

bool applyMaxConnectionsPerAddress(const QString &value, Config *config)
{
    return parseInt(value, 1, 100000000, &config->maxConnectionsPerAddress);
}

bool applyMaxNewConnectionsPerMinute(const QString &value, Config *config)
{
    return parseInt(value, 1, 100000000, &config->maxNewConnectionsPerMinute);
}

bool applyHandshakeTimeout(const QString &value, Config *config)
{
    return parseInt(value, 100, 600000, &config->handshakeTimeoutMs);
}

bool applyMaxBacklogBytes(const QString &value, Config *config)
{
    return parseInt(value, 1024, 1073741824, &config->maxBacklogBytes);
}

bool applySharePort(const QString &value, Config *config)
{
    return parseSwitch(value, &config->sharePort);
}

bool applyDrainWindow(const QString &value, Config *config)
{
    return parseInt(value, 0, 600000, &config->drainWindowMs);
}

// MIX_ENV and STATE_DIRECTORY come first so that COLLECTIVE_ENV and
// COLLECTIVE_DATA_DIR, applied later, win when both are set.
const Setting settings[] = {
    {"PORT", "an integer from 0 to 65535", "4000", "TCP port for HTTP and WebSocket", applyPort},
    {"COLLECTIVE_BIND", "an IPv4 or IPv6 address", "127.0.0.1 in dev, 0.0.0.0 in prod",
     "address to listen on", applyBind},
    {"MIX_ENV", "dev or prod", "dev", "run mode (the Phoenix seed's name)", applyEnvironment},
    {"COLLECTIVE_ENV", "dev or prod", "dev", "run mode; wins over MIX_ENV", applyEnvironment},
    {"PHX_HOST", "host names without scheme or port, comma-separated, *.domain for subdomains", "localhost",
     "public host names; browsers from other origins are refused (403)", applyPublicHosts},
    {"REDIS_URL",
     "redis://[:password@]host:port[/db] or unix:///path/to/redis.sock[?db=N]; with REDIS_CLUSTER=1, "
     "one or more redis://[:password@]host:port separated by commas",
     "(empty: embedded store)", "shared state in Redis", applyRedisUrl},
    {"REDIS_CLUSTER", "0 or 1", "0", "1: REDIS_URL names nodes of a Redis Cluster (seeds)", applyRedisCluster},
    {"SECRET_KEY_BASE", "at least 64 characters", "(empty)",
     "accepted for the seed's deployment; protects nothing, since there are no cookies or tokens",
     applySecretKeyBase},
    {"COLLECTIVE_TICK_INTERVAL_MS", "an integer from 100 to 600000", "5000",
     "milliseconds between Chronos ticks", applyTickInterval},
    {"COLLECTIVE_PRESENCE_INTERVAL_MS", "an integer from 50 to 60000", "250",
     "minimum milliseconds between presence broadcasts", applyPresenceInterval},
    {"STATE_DIRECTORY", "a directory path", "(set by systemd)", "data directory under systemd",
     applyDataDir},
    {"COLLECTIVE_DATA_DIR", "a directory path", "data", "where the embedded store keeps its file",
     applyDataDir},
    {"COLLECTIVE_THREADS", "an integer from 1 to 256", "the number of cores",
     "event-loop threads that own sockets", applyThreads},
    {"COLLECTIVE_IDLE_TIMEOUT_MS", "an integer from 1000 to 3600000", "60000",
     "milliseconds of silence before a socket is closed", applyIdleTimeout},
    {"COLLECTIVE_MAX_FRAME_BYTES", "an integer from 256 to 1048576", "4096",
     "largest client frame in bytes", applyMaxFrameBytes},
    {"COLLECTIVE_MAX_CONNECTIONS", "an integer from 0 to 100000000", "0 (open-file limit less a reserve)",
     "open WebSockets per process; further upgrades get 503", applyMaxConnections},
    {"COLLECTIVE_MAX_CONNECTIONS_PER_ADDRESS", "an integer from 1 to 100000000", "5000",
     "open connections from one source address; more get 429", applyMaxConnectionsPerAddress},
    {"COLLECTIVE_MAX_NEW_CONNECTIONS_PER_MINUTE", "an integer from 1 to 100000000", "3000",
     "new connections from one source address per minute; more get 429", applyMaxNewConnectionsPerMinute},
    {"COLLECTIVE_HANDSHAKE_TIMEOUT_MS", "an integer from 100 to 600000", "10000",
     "milliseconds a connection may take to become a WebSocket", applyHandshakeTimeout},
    {"COLLECTIVE_MAX_BACKLOG_BYTES", "an integer from 1024 to 1073741824", "65536",
     "unsent bytes per socket before it is closed with 1008", applyMaxBacklogBytes},
    {"COLLECTIVE_SHARE_PORT", "0 or 1", "0",
     "1 lets several server processes share PORT on purpose (SO_REUSEPORT)", applySharePort},
    {"COLLECTIVE_DRAIN_WINDOW_MS", "an integer from 0 to 600000", "5000",
     "milliseconds over which SIGTERM closes witnesses in batches", applyDrainWindow},
};

QString flagName(const char *variable)
{
    return QStringLiteral("--") + QString::fromLatin1(variable).toLower().replace(QLatin1Char('_'), QLatin1Char('-'));
}

bool isKnownFlag(const QString &flag)
{
    return std::any_of(std::begin(settings), std::end(settings),
                       [&](const Setting &setting) { return flagName(setting.variable) == flag; });
}

QString rejection(const Setting &setting, const QString &source, const QString &value)
{
    return QStringLiteral("Invalid %1 '%2' (from %3): expected %4.")
            .arg(QString::fromLatin1(setting.variable), value, source, QString::fromLatin1(setting.form));
}

} // namespace

bool isValidRedisUrl(const QString &text)
{
    QString error;
    return parseRedisSeeds(text, true, &error).has_value() || parseRedisSeeds(text, false, &error).has_value();
}

ConfigResult parseConfig(const QStringList &environment, const QStringList &arguments)
{
    ConfigResult result;

    QHash<QString, QString> env;
    for (const QString &entry : environment) {
        const qsizetype equals = entry.indexOf(QLatin1Char('='));
        if (equals > 0)
            env.insert(entry.left(equals), entry.mid(equals + 1));
    }

    // Flags: --name=value or --name value.
    QHash<QString, QString> flags;
    for (qsizetype i = 0; i < arguments.size(); ++i) {
        const QString &argument = arguments.at(i);
        if (argument == QLatin1String("--help") || argument == QLatin1String("-h")) {
            result.helpRequested = true;
            return result;
        }
        const qsizetype equals = argument.indexOf(QLatin1Char('='));
        if (equals > 0) {
            flags.insert(argument.left(equals), argument.mid(equals + 1));
        } else if (i + 1 < arguments.size()) {
            flags.insert(argument, arguments.at(i + 1));
            ++i;
        } else {
            result.error = isKnownFlag(argument) ? QStringLiteral("Flag %1 needs a value, as %1=VALUE.").arg(argument)
                                 : QStringLiteral("Unknown flag %1; run with --help for the list.").arg(argument);
            return result;
        }
    }
    for (auto it = flags.cbegin(); it != flags.cend(); ++it) {
        if (!isKnownFlag(it.key())) {
            result.error = QStringLiteral("Unknown flag %1; run with --help for the list.").arg(it.key());
            return result;
        }
    }

    Config config;
    bool bindGiven = false;
    for (const Setting &setting : settings) {
        const QString variable = QString::fromLatin1(setting.variable);
        const QString flag = flagName(setting.variable);
        QString value;
        QString source;
        if (flags.contains(flag)) {
            value = flags.value(flag);
            source = QStringLiteral("flag %1").arg(flag);
        } else if (env.contains(variable)) {
            value = env.value(variable);
            source = QStringLiteral("environment");
        } else {
            continue;
        }
        if (!setting.apply(value, &config)) {
            // A secret is never echoed back.
            const QString shown = variable == QLatin1String("SECRET_KEY_BASE")
                    ? QStringLiteral("<%1 characters>").arg(value.size())
                    : value;
            result.error = rejection(setting, source, shown);
            return result;
        }
        if (variable == QLatin1String("COLLECTIVE_BIND"))
            bindGiven = true;
    }

    // REDIS_URL and REDIS_CLUSTER are read one by one above; whether they
    // fit together is known only now.
    if (config.redisCluster && config.redisUrl.isEmpty()) {
        result.error = QStringLiteral("REDIS_CLUSTER=1 needs REDIS_URL to name at least one node of the cluster.");
        return result;
    }
    if (!config.redisUrl.isEmpty()) {
        QString error;
        if (!parseRedisSeeds(config.redisUrl, config.redisCluster, &error)) {
            result.error = error + QLatin1Char('.');
            return result;
        }
    }

    if (!bindGiven && config.environment == Environment::Prod)
        config.bindAddress = QHostAddress::AnyIPv4;
    if (config.threads == 0)
        config.threads = qMax(1, QThread::idealThreadCount());

    result.config = config;
    return result;
}

QString configHelp()
{
    QString text = QStringLiteral(
            "collective-server: the headless server of The Collective.\n\n"
            "Every setting is an environment variable and a flag of the same name\n"
            "(PORT is also --port=4000). A flag wins over the environment.\n\n");
    for (const Setting &setting : settings) {
        text += QStringLiteral("  %1 (%2)\n      %3; %4. Default: %5.\n")
                        .arg(QString::fromLatin1(setting.variable), flagName(setting.variable),
                             QString::fromLatin1(setting.help), QString::fromLatin1(setting.form),
                             QString::fromLatin1(setting.defaultText));
    }
    return text;
}

QString describeConfig(const Config &config)
{
    return QStringLiteral("env=%1 bind=%2 port=%3 store=%4 tick=%5ms threads=%6 idle_timeout=%7ms "
                          "max_frame=%8B data_dir=%9")
            .arg(config.environment == Environment::Prod ? QStringLiteral("prod") : QStringLiteral("dev"),
                 config.bindAddress.toString())
            .arg(config.port)
            .arg(config.redisUrl.isEmpty() ? QStringLiteral("embedded")
                         : config.redisCluster ? QStringLiteral("redis-cluster")
                                               : QStringLiteral("redis"))
            .arg(config.tickIntervalMs)
            .arg(config.threads)
            .arg(config.idleTimeoutMs)
            .arg(config.maxFrameBytes)
            .arg(config.dataDir);
}

} // namespace collective
