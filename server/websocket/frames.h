// Server-to-client WebSocket frames (RFC 6455, section 5.2). A server's
// frames are not masked, so a broadcast frame is built once and the same
// bytes serve every socket: each hub writes them to its sockets as they are.
#pragma once

#include <QByteArray>

namespace collective::websocket {

// FIN set, opcode 1 (text), no mask, then the payload length in 7 bits, or
// 126 and 16 bits, or 127 and 64 bits, in network byte order.
QByteArray textFrame(const QByteArray &utf8Payload);

// A close frame with `code` and a UTF-8 reason. The reason is cut to fit
// the 125-byte limit of a control frame, at a character boundary.
QByteArray closeFrame(quint16 code, const QByteArray &utf8Reason);

// The reply to a ping: a pong frame with the ping's payload (at most 125 bytes).
QByteArray pongFrame(const QByteArray &payload);

} // namespace collective::websocket
