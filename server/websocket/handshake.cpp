// The opening handshake of handshake.h.
#include "websocket/handshake.h"

#include <QCryptographicHash>

namespace collective::websocket {

namespace {

// Appended to the client's key before hashing (RFC 6455, section 1.3).
constexpr QByteArrayView handshakeGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

bool containsToken(QByteArrayView list, QByteArrayView token)
{
    // A comma-separated header such as "keep-alive, Upgrade".
    for (QByteArrayView part : QByteArray(list.data(), list.size()).split(',')) {
        if (part.trimmed().compare(token, Qt::CaseInsensitive) == 0)
            return true;
    }
    return false;
}

const char *reasonPhrase(int status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 426:
        return "Upgrade Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 503:
        return "Service Unavailable";
    default:
        return "Error";
    }
}

} // namespace

QByteArray RequestHead::value(QByteArrayView lowerCaseName) const
{
    QByteArray joined;
    for (const auto &[name, value] : headers) {
        if (name != lowerCaseName)
            continue;
        if (!joined.isEmpty())
            joined.append(", ");
        joined.append(value);
    }
    return joined;
}

QByteArray RequestHead::path() const
{
    const qsizetype query = target.indexOf('?');
    return query < 0 ? target : target.left(query);
}

QByteArray RequestHead::queryValue(QByteArrayView name) const
{
    const qsizetype query = target.indexOf('?');
    if (query < 0)
        return {};
    for (const QByteArray &pair : target.mid(query + 1).split('&')) {
        const qsizetype equals = pair.indexOf('=');
        const QByteArrayView key = equals < 0 ? QByteArrayView(pair) : QByteArrayView(pair).first(equals);
        if (key == name)
            return equals < 0 ? QByteArray() : pair.mid(equals + 1);
    }
    return {};
}

HeadStatus parseRequestHead(QByteArrayView bytes, qsizetype maxHeadBytes, RequestHead *head)
{
    const qsizetype end = bytes.indexOf(QByteArrayView("\r\n\r\n"));
    if (end < 0)
        return bytes.size() >= maxHeadBytes ? HeadStatus::TooLarge : HeadStatus::Incomplete;
    if (end + 4 > maxHeadBytes)
        return HeadStatus::TooLarge;

    const QList<QByteArray> lines = QByteArray(bytes.data(), end).split('\n');
    *head = RequestHead();
    head->size = end + 4;

    // Request line: method, target and version, separated by single spaces.
    const QList<QByteArray> requestLine = lines.first().trimmed().split(' ');
    if (requestLine.size() != 3 || requestLine[0].isEmpty() || !requestLine[1].startsWith('/')
        || !requestLine[2].startsWith("HTTP/"))
        return HeadStatus::Malformed;
    head->method = requestLine[0];
    head->target = requestLine[1];
    head->version = requestLine[2];

    for (qsizetype i = 1; i < lines.size(); ++i) {
        const QByteArray line = lines[i].endsWith('\r') ? lines[i].chopped(1) : lines[i];
        const qsizetype colon = line.indexOf(':');
        if (colon <= 0)
            return HeadStatus::Malformed;
        head->headers.append({line.left(colon).trimmed().toLower(), line.mid(colon + 1).trimmed()});
    }
    return HeadStatus::Complete;
}

bool isUpgradeRequest(const RequestHead &head)
{
    return containsToken(head.value("upgrade"), "websocket");
}

UpgradeCheck checkUpgradeRequest(const RequestHead &head)
{
    // RFC 6455, section 4.2.1: what a server must find in the request.
    if (head.method != "GET" || head.version != "HTTP/1.1")
        return {400, "a WebSocket upgrade is a GET request over HTTP/1.1"};
    if (!containsToken(head.value("connection"), "upgrade"))
        return {400, "a WebSocket upgrade needs the Connection: Upgrade header"};
    if (head.value("sec-websocket-version") != "13")
        return {426, "only WebSocket version 13 is spoken"};
    if (QByteArray::fromBase64(head.value("sec-websocket-key")).size() != 16)
        return {400, "Sec-WebSocket-Key must be 16 bytes in base64"};
    return {};
}

QByteArray acceptKeyFor(QByteArrayView clientKey)
{
    QCryptographicHash sha1(QCryptographicHash::Sha1);
    sha1.addData(clientKey);
    sha1.addData(handshakeGuid);
    return sha1.result().toBase64();
}

QByteArray switchingProtocolsResponse(const RequestHead &head)
{
    // No subprotocol and no extension is offered back, so a client that
    // proposed permessage-deflate sends uncompressed frames.
    return QByteArrayLiteral("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                             "Sec-WebSocket-Accept: ")
            + acceptKeyFor(head.value("sec-websocket-key")) + QByteArrayLiteral("\r\n\r\n");
}

QByteArray plainResponse(int status, QByteArrayView body, QByteArrayView extraHeaders)
{
    QByteArray response = "HTTP/1.1 " + QByteArray::number(status) + ' ' + reasonPhrase(status) + "\r\n";

    // A 426 must name the protocol in Upgrade, which Connection then lists as
    // a connection option (RFC 9110, #status.426 and #field.upgrade).
    if (status == 426)
        response += "Upgrade: websocket\r\nConnection: Upgrade, close\r\n";
    else
        response += "Connection: close\r\n";
    response += "Content-Type: text/plain; charset=utf-8\r\nContent-Length: ";
    response += QByteArray::number(body.size()) + "\r\n";
    response.append(extraHeaders.data(), extraHeaders.size());
    response += "\r\n";
    response.append(body.data(), body.size());
    return response;
}

} // namespace collective::websocket
