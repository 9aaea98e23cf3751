// The opening handshake of a WebSocket (RFC 6455, section 4): reading the
// head of the client's HTTP/1.1 request and building the server's response.
//
// The head is read from bytes peeked off the connection, so a request that
// is not an upgrade can still be handed whole to the HTTP server.
#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QList>
#include <QPair>

namespace collective::websocket {

struct RequestHead
{
    QByteArray method;
    QByteArray target;  // the request target as sent: path and query
    QByteArray version; // "HTTP/1.1"
    QList<QPair<QByteArray, QByteArray>> headers; // names in lower case, values trimmed
    qsizetype size = 0; // bytes up to and including the empty line

    // The header's value; repeated headers are joined with ", " as HTTP
    // allows. Empty when absent.
    QByteArray value(QByteArrayView lowerCaseName) const;

    // The path of the target, without the query.
    QByteArray path() const;

    // A query parameter's raw value; empty when absent.
    QByteArray queryValue(QByteArrayView name) const;
};

enum class HeadStatus { Incomplete, Complete, Malformed, TooLarge };

// Parses the request head at the start of `bytes`. Incomplete until the
// empty line has arrived; TooLarge when it has not within maxHeadBytes.
HeadStatus parseRequestHead(QByteArrayView bytes, qsizetype maxHeadBytes, RequestHead *head);

// True when the request names the WebSocket protocol in its Upgrade header.
bool isUpgradeRequest(const RequestHead &head);

// The verdict on a WebSocket upgrade request: the HTTP status to reject it
// with and the reason, or status 0 when it can be accepted.
struct UpgradeCheck
{
    int status = 0;
    const char *detail = "";
};
UpgradeCheck checkUpgradeRequest(const RequestHead &head);

// Sec-WebSocket-Accept for a client's Sec-WebSocket-Key.
QByteArray acceptKeyFor(QByteArrayView clientKey);

// The 101 Switching Protocols response to an accepted upgrade.
QByteArray switchingProtocolsResponse(const RequestHead &head);

// A short plain-text response that closes the connection.
QByteArray plainResponse(int status, QByteArrayView body, QByteArrayView extraHeaders = {});

} // namespace collective::websocket
