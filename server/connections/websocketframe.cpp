// The unmasked text frame of websocketframe.h.
#include "connections/websocketframe.h"

namespace collective {

QByteArray webSocketTextFrame(const QByteArray &utf8Payload)
{
    const quint64 length = quint64(utf8Payload.size());
    QByteArray frame;
    frame.reserve(utf8Payload.size() + 10);
    frame.append(char(0x81));

    if (length < 126) {
        frame.append(char(length));
    } else if (length <= 0xffff) {
        frame.append(char(126));
        frame.append(char(length >> 8));
        frame.append(char(length & 0xff));
    } else {
        frame.append(char(127));
        for (int shift = 56; shift >= 0; shift -= 8)
            frame.append(char((length >> shift) & 0xff));
    }

    frame.append(utf8Payload);
    return frame;
}

} // namespace collective
