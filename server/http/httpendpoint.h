// The HTTP side of a socket thread: a small exact-path router on Qt
// HttpServer's QAbstractHttpServer.
//
// WebSocket upgrades do not come here: the witness hub handles a
// connection's first request itself when it is an upgrade. An upgrade that
// arrives later on a kept-alive connection gets 400, and a plain request to
// the WebSocket path gets 426.
#pragma once

#include <QAbstractHttpServer>
#include <QHash>
#include <QHttpServerResponse>
#include <QLoggingCategory>

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

    // Routes GET and HEAD requests for exactly `path` to `handler`.
    void route(const QString &path, Handler handler);

protected:
    bool handleRequest(const QHttpServerRequest &request, QTcpSocket *socket) override;
    void missingHandler(const QHttpServerRequest &request, QTcpSocket *socket) override;

private:
    static void respond(const QHttpServerRequest &request, QTcpSocket *socket, const QHttpServerResponse &response);

    QHash<QString, Handler> m_routes;
};

} // namespace collective
