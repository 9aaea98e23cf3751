// A server-to-client WebSocket text frame (RFC 6455, section 5.2), built
// once per broadcast. A server's frames are not masked, so the same bytes
// serve every socket: each hub writes them to its sockets' TCP connections
// as they are, without framing or copying the payload per socket.
#pragma once

#include <QByteArray>

namespace collective {

// FIN set, opcode 1 (text), no mask, then the payload length in 7 bits, or
// 126 and 16 bits, or 127 and 64 bits, in network byte order.
QByteArray webSocketTextFrame(const QByteArray &utf8Payload);

} // namespace collective
