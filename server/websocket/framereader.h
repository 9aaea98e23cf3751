// Reads the frames a WebSocket client sends (RFC 6455, section 5) from the
// bytes of its TCP connection, however the kernel splits them, and yields
// whole messages.
//
// What it enforces, with the close code the server replies with:
//   1002 (protocol error): an unmasked frame, reserved bits without an
//        extension, an unknown opcode, a fragmented or oversized (> 125 bytes)
//        control frame, a continuation without a message, a new message
//        inside a fragmented one, a close frame with a 1-byte payload or a
//        code a peer may not send
//   1007 (invalid data): a text message or close reason that is not UTF-8
//   1009 (message too big): a message over the limit, reported as soon as a
//        frame header announces it, so the bytes are never buffered
//
// Only an unfinished frame and an unfinished fragmented message are kept
// between reads; an idle connection keeps nothing.
#pragma once

#include <QByteArray>
#include <QByteArrayView>

#include <functional>
#include <optional>

namespace collective::websocket {

struct Message
{
    enum Kind { Text, Binary, Ping, Pong, Close };

    Kind kind = Text;
    // Text: UTF-8 (validated); Binary, Ping, Pong: as sent; Close: the reason.
    QByteArray payload;
    // Close only: the peer's code, or 1005 (no status) when it sent none.
    quint16 closeCode = 0;
};

struct ReadError
{
    quint16 closeCode;  // 1002, 1007 or 1009
    const char *detail; // for the close frame's reason and debug logs
};

// Validates UTF-8 as RFC 3629 defines it: no overlong forms, no surrogates,
// nothing above U+10FFFF.
bool isValidUtf8(QByteArrayView bytes);

class FrameReader
{
public:
    explicit FrameReader(qsizetype maxMessageBytes) : m_maxMessageBytes(maxMessageBytes) {}

    // Parses `bytes`, which follow whatever an earlier call left unfinished,
    // and calls `onMessage` for each whole message in order. Reading stops
    // for good at a close frame, when onMessage returns false, or at the
    // first violation, which is returned; later calls read nothing.
    std::optional<ReadError> read(QByteArrayView bytes, const std::function<bool(Message &&)> &onMessage);

    // Bytes held for an unfinished frame or message.
    qsizetype bufferedBytes() const { return m_unparsed.size() + m_fragments.size(); }

private:
    enum class Step { Parsed, NeedMore, Stop };

    Step parseFrame(QByteArrayView bytes, qsizetype *consumed, std::optional<ReadError> *error,
                    const std::function<bool(Message &&)> &onMessage);
    std::optional<ReadError> closeMessage(QByteArray payload, Message *message) const;

    const qsizetype m_maxMessageBytes;
    QByteArray m_unparsed;      // the start of a frame whose rest has not arrived
    QByteArray m_fragments;     // the payload of a fragmented message so far
    quint8 m_fragmentOpcode = 0; // 1 or 2 while a fragmented message is open
    bool m_stopped = false;
};

} // namespace collective::websocket
