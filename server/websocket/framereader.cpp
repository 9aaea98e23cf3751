// The client frame reader of framereader.h.
#include "websocket/framereader.h"

namespace collective::websocket {

namespace {

enum Opcode : quint8 { Continuation = 0x0, TextOpcode = 0x1, BinaryOpcode = 0x2, CloseOpcode = 0x8,
                       PingOpcode = 0x9, PongOpcode = 0xa };

constexpr quint16 protocolError = 1002;
constexpr quint16 invalidData = 1007;
constexpr quint16 messageTooBig = 1009;
constexpr quint16 noStatusReceived = 1005;
constexpr qsizetype maxControlPayload = 125;

// Codes a peer may put in a close frame (RFC 6455, section 7.4): the
// defined ones except those reserved for reporting (1004, 1005, 1006,
// 1015), and the ranges for libraries and applications.
bool isSendableCloseCode(quint16 code)
{
    if (code >= 3000 && code <= 4999)
        return true;
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014);
}

quint64 readBigEndian(const uchar *bytes, int count)
{
    quint64 value = 0;
    for (int i = 0; i < count; ++i)
        value = (value << 8) | bytes[i];
    return value;
}

} // namespace

bool isValidUtf8(QByteArrayView bytes)
{
    const auto *data = reinterpret_cast<const uchar *>(bytes.data());
    const qsizetype size = bytes.size();
    qsizetype i = 0;
    while (i < size) {
        const uchar lead = data[i];
        if (lead < 0x80) {
            ++i;
            continue;
        }

        // The lead byte fixes the sequence length and the allowed range of
        // the second byte, which rules out overlong forms, surrogates
        // (ED A0..BF) and code points above U+10FFFF (F4 90.. and F5..FF).
        int length = 0;
        uchar low = 0x80;
        uchar high = 0xbf;
        if (lead >= 0xc2 && lead <= 0xdf) {
            length = 2;
        } else if (lead >= 0xe0 && lead <= 0xef) {
            length = 3;
            if (lead == 0xe0)
                low = 0xa0;
            else if (lead == 0xed)
                high = 0x9f;
        } else if (lead >= 0xf0 && lead <= 0xf4) {
            length = 4;
            if (lead == 0xf0)
                low = 0x90;
            else if (lead == 0xf4)
                high = 0x8f;
        } else {
            return false;
        }

        if (size - i < length)
            return false;
        if (data[i + 1] < low || data[i + 1] > high)
            return false;
        for (int k = 2; k < length; ++k) {
            if ((data[i + k] & 0xc0) != 0x80)
                return false;
        }
        i += length;
    }
    return true;
}

std::optional<ReadError> FrameReader::read(QByteArrayView bytes, const std::function<bool(Message &&)> &onMessage)
{
    if (m_stopped)
        return std::nullopt;

    // Without a leftover, frames are parsed straight from the caller's
    // buffer and only an unfinished tail is copied.
    QByteArray joined;
    if (!m_unparsed.isEmpty()) {
        joined = m_unparsed;
        joined.append(bytes.data(), bytes.size());
        m_unparsed.clear();
        bytes = joined;
    }

    qsizetype offset = 0;
    std::optional<ReadError> error;
    while (offset < bytes.size()) {
        qsizetype consumed = 0;
        const Step step = parseFrame(bytes.sliced(offset), &consumed, &error, onMessage);
        if (step == Step::Stop) {
            m_stopped = true;
            m_unparsed = QByteArray();
            m_fragments = QByteArray();
            return error;
        }
        if (step == Step::NeedMore) {
            m_unparsed = bytes.sliced(offset).toByteArray();
            break;
        }
        offset += consumed;
    }
    return std::nullopt;
}

FrameReader::Step FrameReader::parseFrame(QByteArrayView bytes, qsizetype *consumed, std::optional<ReadError> *error,
                                          const std::function<bool(Message &&)> &onMessage)
{
    const auto *data = reinterpret_cast<const uchar *>(bytes.data());
    const auto fail = [error](quint16 code, const char *detail) {
        *error = ReadError{code, detail};
        return Step::Stop;
    };

    // The first two bytes carry everything that can be rejected early.
    if (bytes.size() < 2)
        return Step::NeedMore;
    const bool fin = data[0] & 0x80;
    const quint8 opcode = data[0] & 0x0f;
    const bool masked = data[1] & 0x80;
    const quint8 shortLength = data[1] & 0x7f;
    const bool control = opcode & 0x8;

    if (data[0] & 0x70)
        return fail(protocolError, "reserved bits set without an extension");
    if (opcode != Continuation && opcode != TextOpcode && opcode != BinaryOpcode && opcode != CloseOpcode
        && opcode != PingOpcode && opcode != PongOpcode)
        return fail(protocolError, "unknown opcode");
    if (!masked)
        return fail(protocolError, "client frames must be masked");
    if (control && (!fin || shortLength > maxControlPayload))
        return fail(protocolError, "control frames must be whole and at most 125 bytes");
    if (opcode == Continuation && m_fragmentOpcode == 0)
        return fail(protocolError, "continuation frame without a message");
    if ((opcode == TextOpcode || opcode == BinaryOpcode) && m_fragmentOpcode != 0)
        return fail(protocolError, "new message before the fragmented one ended");

    // Then the extended length, the mask and the payload.
    int lengthBytes = 0;
    if (shortLength == 126)
        lengthBytes = 2;
    else if (shortLength == 127)
        lengthBytes = 8;
    const qsizetype headerSize = 2 + lengthBytes + 4;
    if (bytes.size() < headerSize)
        return Step::NeedMore;
    const quint64 length = lengthBytes ? readBigEndian(data + 2, lengthBytes) : shortLength;
    if (length >> 63)
        return fail(protocolError, "payload length with the most significant bit set");
    if (!control && length + quint64(m_fragments.size()) > quint64(m_maxMessageBytes))
        return fail(messageTooBig, "message over the size limit");
    if (quint64(bytes.size() - headerSize) < length)
        return Step::NeedMore;

    const uchar *mask = data + 2 + lengthBytes;
    QByteArray payload(qsizetype(length), Qt::Uninitialized);
    char *out = payload.data();
    const uchar *in = data + headerSize;
    for (qsizetype i = 0; i < qsizetype(length); ++i)
        out[i] = char(in[i] ^ mask[i & 3]);
    *consumed = headerSize + qsizetype(length);

    // Control frames may arrive between the fragments of a message.
    Message message;
    if (control) {
        if (opcode == CloseOpcode) {
            if ((*error = closeMessage(std::move(payload), &message)))
                return Step::Stop;
            onMessage(std::move(message));
            return Step::Stop; // nothing after a close frame is read (RFC 6455, section 5.5.1)
        }
        message.kind = opcode == PingOpcode ? Message::Ping : Message::Pong;
        message.payload = std::move(payload);
        return onMessage(std::move(message)) ? Step::Parsed : Step::Stop;
    }

    // A data frame ends a message, or starts or continues a fragmented one.
    const quint8 messageOpcode = opcode == Continuation ? m_fragmentOpcode : opcode;
    if (!fin) {
        m_fragmentOpcode = messageOpcode;
        m_fragments.append(payload);
        return Step::Parsed;
    }
    if (m_fragmentOpcode != 0) {
        m_fragments.append(payload);
        payload = std::move(m_fragments);
        m_fragments = QByteArray();
        m_fragmentOpcode = 0;
    }

    message.kind = messageOpcode == TextOpcode ? Message::Text : Message::Binary;
    if (message.kind == Message::Text && !isValidUtf8(payload))
        return fail(invalidData, "text message is not valid UTF-8");
    message.payload = std::move(payload);
    return onMessage(std::move(message)) ? Step::Parsed : Step::Stop;
}

std::optional<ReadError> FrameReader::closeMessage(QByteArray payload, Message *message) const
{
    message->kind = Message::Close;
    if (payload.isEmpty()) {
        message->closeCode = noStatusReceived;
        return std::nullopt;
    }
    if (payload.size() == 1)
        return ReadError{protocolError, "close frame with a 1-byte payload"};

    const quint16 code = quint16(readBigEndian(reinterpret_cast<const uchar *>(payload.constData()), 2));
    if (!isSendableCloseCode(code))
        return ReadError{protocolError, "close code a peer may not send"};
    message->closeCode = code;
    message->payload = payload.mid(2);
    if (!isValidUtf8(message->payload))
        return ReadError{invalidData, "close reason is not valid UTF-8"};
    return std::nullopt;
}

} // namespace collective::websocket
