// The unmasked server frames of frames.h.
#include "websocket/frames.h"

namespace collective::websocket {

namespace {

constexpr char finText = char(0x81);
constexpr char finClose = char(0x88);
constexpr char finPong = char(0x8a);
constexpr qsizetype maxControlPayload = 125;

QByteArray frame(char firstByte, const QByteArray &payload)
{
    const quint64 length = quint64(payload.size());
    QByteArray bytes;
    bytes.reserve(payload.size() + 10);
    bytes.append(firstByte);

    if (length < 126) {
        bytes.append(char(length));
    } else if (length <= 0xffff) {
        bytes.append(char(126));
        bytes.append(char(length >> 8));
        bytes.append(char(length & 0xff));
    } else {
        bytes.append(char(127));
        for (int shift = 56; shift >= 0; shift -= 8)
            bytes.append(char((length >> shift) & 0xff));
    }

    bytes.append(payload);
    return bytes;
}

} // namespace

QByteArray textFrame(const QByteArray &utf8Payload)
{
    return frame(finText, utf8Payload);
}

QByteArray closeFrame(quint16 code, const QByteArray &utf8Reason)
{
    // Two bytes of the 125 carry the code. A cut must not split a UTF-8
    // sequence, so it backs up over continuation bytes (10xxxxxx).
    qsizetype reasonLength = qMin(utf8Reason.size(), maxControlPayload - 2);
    if (reasonLength < utf8Reason.size()) {
        while (reasonLength > 0 && (quint8(utf8Reason.at(reasonLength)) & 0xc0) == 0x80)
            --reasonLength;
    }

    QByteArray payload;
    payload.reserve(2 + reasonLength);
    payload.append(char(code >> 8));
    payload.append(char(code & 0xff));
    payload.append(utf8Reason.constData(), reasonLength);
    return frame(finClose, payload);
}

QByteArray pongFrame(const QByteArray &payload)
{
    return frame(finPong, payload.left(maxControlPayload));
}

} // namespace collective::websocket
