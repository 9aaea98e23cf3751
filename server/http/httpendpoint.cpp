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

void HttpEndpoint::setOriginPolicy(const OriginPolicy &policy, std::atomic<qint64> *originRejections)
{
    m_originPolicy = policy;
    m_originRejections = originRejections;
}

bool HttpEndpoint::refusesOrigin(const QHttpServerRequest &request) const
{
    return !m_originPolicy.allows(request.value("origin"));
}

void HttpEndpoint::route(const QString &path, Handler handler)
{
    m_routes.insert(path, std::move(handler));
}

bool HttpEndpoint::handleRequest(const QHttpServerRequest &request, QTcpSocket *socket)
{
    const QString path = request.url().path();

    if (path == QLatin1String(webSocketPath)) {
        // Returning true without writing a response lets Qt upgrade the socket;
        // a refused origin stays unhandled and missingHandler() answers 403.
        if (isWebSocketUpgrade(request))
            return !refusesOrigin(request);
        QHttpServerResponse response =
                plainText("This is the WebSocket endpoint: connect with a WebSocket client and vsn=2.0.0.\n",
                          StatusCode::UpgradeRequired);
        response.setHeader("Upgrade", "websocket");
        respond(request, socket, response);
        return true;
    }

    // Qt upgrades every upgrade request that was handled, so an upgrade to
    // another path must stay unhandled: missingHandler() responds with 404.
    if (isWebSocketUpgrade(request))
        return false;

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
    if (request.url().path() == QLatin1String(webSocketPath) && isWebSocketUpgrade(request)) {
        if (m_originRejections)
            m_originRejections->fetch_add(1, std::memory_order_relaxed);
        qCDebug(lcHttp, "Refused a WebSocket upgrade from an origin outside PHX_HOST.");
        respond(request, socket,
                plainText("Forbidden: this origin may not connect; the server's PHX_HOST lists the allowed ones.\n",
                          StatusCode::Forbidden));
        return;
    }
    respond(request, socket, plainText("Not found.\n", StatusCode::NotFound));
}

} // namespace collective
