// The HTTP side of a socket thread: a small exact-path router on Qt
// HttpServer's QAbstractHttpServer.
//
// QHttpServer's own router cannot be used here. In Qt HttpServer 6.4 a
// WebSocket upgrade is handed over only when a route handled the request
// and wrote nothing, so one route cannot both upgrade and answer plain GETs
// with 426. This class decides per request: an upgrade to the WebSocket path
// is marked handled with no answer so Qt upgrades it; a plain request there
// gets 426; an upgrade to any other path stays unhandled and gets 404, and
// an upgrade from a browser origin the policy refuses gets 403.
#pragma once

#include "http/originpolicy.h"

#include <QAbstractHttpServer>
#include <QHash>
#include <QHttpServerResponse>
#include <QLoggingCategory>

#include <atomic>
#include <functional>

namespace collective {

Q_DECLARE_LOGGING_CATEGORY(lcHttp)

class HttpEndpoint final : public QAbstractHttpServer
{
    Q_OBJECT

public:
    using Handler = std::function<QHttpServerResponse(const QHttpServerRequest &)>;

    // The path that upgrades to the Phoenix WebSocket.
    static constexpr auto webSocketPath = "/socket/websocket";

    explicit HttpEndpoint(QObject *parent = nullptr);

    // Browser origins allowed to upgrade; refusals bump *originRejections.
    void setOriginPolicy(const OriginPolicy &policy, std::atomic<qint64> *originRejections);

    // Routes GET and HEAD requests for exactly `path` to `handler`.
    void route(const QString &path, Handler handler);

protected:
    bool handleRequest(const QHttpServerRequest &request, QTcpSocket *socket) override;
    void missingHandler(const QHttpServerRequest &request, QTcpSocket *socket) override;

private:
    static void respond(const QHttpServerRequest &request, QTcpSocket *socket, const QHttpServerResponse &response);

    bool refusesOrigin(const QHttpServerRequest &request) const;

    QHash<QString, Handler> m_routes;
    OriginPolicy m_originPolicy;
    std::atomic<qint64> *m_originRejections = nullptr;
};

} // namespace collective
