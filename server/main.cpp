// collective-server: the headless server of The Collective.
//
// Reads its settings (config/config.h), opens the state store, and serves
// HTTP and the Phoenix Channels WebSocket on one port until SIGTERM or
// SIGINT, when it closes every socket with 1001 and stores what is owed.
#include "config/config.h"
#include "node/collectivenode.h"
#include "store/embeddedstore.h"
#include "store/redis/redisstore.h"

#include <QCoreApplication>
#include <QProcessEnvironment>
#include <QSocketNotifier>

#include <csignal>
#include <cstdio>
#include <sys/socket.h>
#include <unistd.h>

namespace {

Q_LOGGING_CATEGORY(lcServer, "collective.server")

int signalPipe[2] = {-1, -1};

void forwardSignal(int signal)
{
    const char byte = char(signal);
    [[maybe_unused]] const auto written = ::write(signalPipe[1], &byte, 1);
}

// Turns SIGTERM and SIGINT into an event on the main loop: a signal handler
// may only write to a pipe, not touch Qt objects.
void installShutdownSignals(QObject *context, std::function<void()> onShutdown)
{
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, signalPipe) != 0)
        qFatal("Cannot create the signal pipe.");

    auto *notifier = new QSocketNotifier(signalPipe[0], QSocketNotifier::Read, context);
    QObject::connect(notifier, &QSocketNotifier::activated, context, [notifier, onShutdown] {
        char byte = 0;
        [[maybe_unused]] const auto read = ::read(signalPipe[0], &byte, 1);
        notifier->setEnabled(false);
        onShutdown();
    });

    struct sigaction action {};
    action.sa_handler = forwardSignal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    ::sigaction(SIGTERM, &action, nullptr);
    ::sigaction(SIGINT, &action, nullptr);
    // A witness that vanishes mid-write must not end the process.
    ::signal(SIGPIPE, SIG_IGN);
}

} // namespace

int main(int argc, char *argv[])
{
    // Qt's glib event dispatcher slows down with the number of sockets (a
    // server stalled near 15 600 connections on Qt 6.4); Qt's own UNIX
    // dispatcher does not. It must be chosen before the application exists.
    qputenv("QT_NO_GLIB", "1");
    if (qEnvironmentVariableIsEmpty("QT_MESSAGE_PATTERN"))
        qputenv("QT_MESSAGE_PATTERN", "%{time yyyy-MM-ddThh:mm:ss.zzz} %{type} %{category}: %{message}");

    // Per-frame and per-tick messages are debug level; they stay off unless
    // QT_LOGGING_RULES turns them on (collective.*.debug=true).
    if (qEnvironmentVariableIsEmpty("QT_LOGGING_RULES"))
        qputenv("QT_LOGGING_RULES", "*.debug=false");

    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("collective-server"));
    QCoreApplication::setApplicationVersion(QStringLiteral(PROJECT_VERSION));

    const collective::ConfigResult parsed = collective::parseConfig(
            QProcessEnvironment::systemEnvironment().toStringList(), app.arguments().mid(1));
    if (parsed.helpRequested) {
        std::fputs(qPrintable(collective::configHelp()), stdout);
        return 0;
    }
    if (!parsed.config) {
        std::fprintf(stderr, "collective-server: %s\n", qPrintable(parsed.error));
        return 2;
    }
    const collective::Config &config = *parsed.config;

    qCInfo(lcServer, "Starting collective-server %s: %s.", PROJECT_VERSION,
           qPrintable(collective::describeConfig(config)));

    std::unique_ptr<collective::StateStore> store;
    if (config.redisUrl.isEmpty()) {
        store = std::make_unique<collective::EmbeddedStore>(config.dataDir);
    } else {
        QString error;
        const auto seeds = collective::parseRedisSeeds(config.redisUrl, config.redisCluster, &error);
        if (!seeds) {
            std::fprintf(stderr, "collective-server: %s\n", qPrintable(error));
            return 2;
        }
        if (config.redisCluster)
            store = std::make_unique<collective::RedisStore>(*seeds, config.tickIntervalMs);
        else
            store = std::make_unique<collective::RedisStore>(seeds->first(), config.tickIntervalMs);
    }
    collective::CollectiveNode node(config, std::move(store));

    QObject::connect(&node, &collective::CollectiveNode::startFailed, &app, [](const QString &reason) {
        qCCritical(lcServer, "Start-up failed: %s.", qPrintable(reason));
        QCoreApplication::exit(1);
    });
    installShutdownSignals(&app, [&node] {
        qCInfo(lcServer, "Shutdown requested.");
        node.shutdown();
        QCoreApplication::exit(0);
    });

    node.start();
    return app.exec();
}
