// Exact-path routing and the WebSocket upgrade decision (see httpendpoint.h).
#include "http/httpendpoint.h"

#include <QHttpServerRequest>
#include <QHttpServerResponder>

namespace collective {

Q_LOGGING_CATEGORY(lcHttp, "collective.http")

namespace {

using StatusCode = QHttpServerResponder::StatusCode;

bool isWebSocketUpgrade(const QHttpServerRequest &request)
{
    return request.value("upgrade").compare("websocket", Qt::CaseInsensitive) == 0;
}

QHttpServerResponse plainText(const char *text, StatusCode status)
{
    return QHttpServerResponse("text/plain; charset=utf-8", QByteArray(text), status);
}

} // namespace

HttpEndpoint::HttpEndpoint(QObject *parent) : QAbstractHttpServer(parent) {}

void HttpEndpoint::respond(const QHttpServerRequest &request, QTcpSocket *socket, const QHttpServerResponse &response)
{
    response.write(makeResponder(request, socket));
}

void HttpEndpoint::route(const QString &path, Handler handler)
{
    m_routes.insert(path, std::move(handler));
}

bool HttpEndpoint::handleRequest(const QHttpServerRequest &request, QTcpSocket *socket)
{
    const QString path = request.url().path();

    // Qt would upgrade a handled request that got no response, so this one
    // always gets one.
    if (isWebSocketUpgrade(request)) {
        respond(request, socket,
                plainText("Open the WebSocket as the first request of a new connection.\n", StatusCode::BadRequest));
        return true;
    }

    if (path == QLatin1String(webSocketPath)) {
        QHttpServerResponse response =
                plainText("This is the WebSocket endpoint: connect with a WebSocket client and vsn=2.0.0.\n",
                          StatusCode::UpgradeRequired);
        // Upgrade is a connection option, so Connection names it too.
        response.setHeader("Upgrade", "websocket");
        response.setHeader("Connection", "Upgrade");
        respond(request, socket, response);
        return true;
    }

    const auto route = m_routes.constFind(path);
    if (route == m_routes.cend())
        return false;

    const auto method = request.method();
    if (method != QHttpServerRequest::Method::Get && method != QHttpServerRequest::Method::Head) {
        QHttpServerResponse response = plainText("Only GET and HEAD are served.\n", StatusCode::MethodNotAllowed);
        response.setHeader("Allow", "GET, HEAD");
        respond(request, socket, response);
        return true;
    }

    respond(request, socket, (*route)(request));
    return true;
}

void HttpEndpoint::missingHandler(const QHttpServerRequest &request, QTcpSocket *socket)
{
    respond(request, socket, plainText("Not found.\n", StatusCode::NotFound));
}

} // namespace collective
