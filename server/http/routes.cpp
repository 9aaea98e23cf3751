// HTTP route handlers; the routes are listed in routes.h.
#include "http/routes.h"

#include "protocol/messages.h"

#include <QDateTime>
#include <QDirIterator>
#include <QFile>
#include <QHttpServerResponse>
#include <QJsonArray>
#include <QJsonObject>
#include <QMimeDatabase>

namespace collective {

namespace {

// The web page is built into the binary under this resource prefix.
const QString webRoot = QStringLiteral(":/web");

QHttpServerResponse jsonResponse(const QJsonObject &body,
                                 QHttpServerResponse::StatusCode status = QHttpServerResponse::StatusCode::Ok)
{
    QHttpServerResponse response(body, status);
    response.setHeader("Cache-Control", "no-store");
    return response;
}

QJsonObject stateBody(const NodeStatus &status)
{
    const PublishedState published = status.read();
    const GlobalState global = status.liveGlobalState();
    const ChronosStats &chronos = published.chronos;
    const qint64 now = status.clock()->nowMs();

    // Chronos keeps monotonic times; the wall time of the last tick is
    // derived from its age so the JSON reads like a timestamp.
    QJsonValue lastTickAt = QJsonValue::Null;
    if (chronos.lastTickAtMs >= 0)
        lastTickAt = protocol::formatTimestamp(QDateTime::currentDateTimeUtc().addMSecs(chronos.lastTickAtMs - now));

    return QJsonObject{
            {QStringLiteral("concurrent_connections"), global.concurrentConnections},
            {QStringLiteral("peak_connections"), global.peakConnections},
            {QStringLiteral("total_connection_seconds"), global.totalConnectionSeconds},
            {QStringLiteral("unlocked_milestones"), QJsonArray::fromStringList(global.unlockedMilestones)},
            {QStringLiteral("node"),
             QJsonObject{
                     {QStringLiteral("witnesses"), status.localWitnesses.load()},
                     {QStringLiteral("connections"), status.openSockets.load()},
                     {QStringLiteral("threads"), published.threads},
                     {QStringLiteral("uptime_ms"), now - published.startedAtMs},
             }},
            {QStringLiteral("store"),
             QJsonObject{
                     {QStringLiteral("backend"), published.storeBackend},
                     {QStringLiteral("ready"), published.storeReady},
             }},
            {QStringLiteral("chronos"),
             QJsonObject{
                     {QStringLiteral("ticks"), chronos.ticks},
                     {QStringLiteral("tick_interval_ms"), chronos.tickIntervalMs},
                     {QStringLiteral("last_tick_at"), lastTickAt},
                     {QStringLiteral("last_tick_duration_ms"), double(chronos.lastTickDurationUs) / 1000.0},
                     {QStringLiteral("drift_ms"), chronos.lastDriftMs},
             }},
    };
}

QHttpServerResponse readiness(const NodeStatus &status)
{
    const QString reason = status.notReadyReason();
    if (reason.isEmpty())
        return jsonResponse(QJsonObject{{QStringLiteral("status"), QStringLiteral("ready")}});
    return jsonResponse(QJsonObject{{QStringLiteral("status"), QStringLiteral("not_ready")},
                                    {QStringLiteral("reason"), reason}},
                        QHttpServerResponse::StatusCode::ServiceUnavailable);
}

// Registers one route per file of the built-in web page. The page is small
// and fixed at build time, so each file is read once, here.
void installWebPage(HttpEndpoint &server)
{
    static const QMimeDatabase mimeTypes;
    QDirIterator files(webRoot, QDir::Files, QDirIterator::Subdirectories);
    while (files.hasNext()) {
        const QString resourcePath = files.next();
        QFile file(resourcePath);
        if (!file.open(QIODevice::ReadOnly))
            continue;
        const QByteArray body = file.readAll();
        const QByteArray mimeType = mimeTypes.mimeTypeForFile(resourcePath, QMimeDatabase::MatchExtension)
                                            .name()
                                            .toLatin1();
        const QString urlPath = resourcePath.mid(webRoot.size());
        auto handler = [body, mimeType](const QHttpServerRequest &) {
            QHttpServerResponse response(mimeType, body);
            response.setHeader("Cache-Control", "no-cache");
            return response;
        };
        server.route(urlPath, handler);
        if (urlPath == QLatin1String("/index.html"))
            server.route(QStringLiteral("/"), handler);
    }
}

} // namespace

void installRoutes(HttpEndpoint &server, const NodeStatus *status)
{
    installWebPage(server);

    server.route(QStringLiteral("/health/live"), [](const QHttpServerRequest &) {
        return jsonResponse(QJsonObject{{QStringLiteral("status"), QStringLiteral("live")}});
    });
    server.route(QStringLiteral("/health/ready"), [status](const QHttpServerRequest &) { return readiness(*status); });
    server.route(QStringLiteral("/metrics/state"), [status](const QHttpServerRequest &) { return jsonResponse(stateBody(*status)); });
    server.route(QStringLiteral("/metrics/evolution"), [status](const QHttpServerRequest &) {
        return jsonResponse(status->read().evolution);
    });
    server.route(QStringLiteral("/metrics"), [status](const QHttpServerRequest &) {
        QHttpServerResponse response("text/plain; version=0.0.4; charset=utf-8", prometheusText(*status));
        response.setHeader("Cache-Control", "no-store");
        return response;
    });
}

} // namespace collective
