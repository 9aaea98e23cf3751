// Phoenix Channels serializer V2 frames, as The Collective speaks them.
//
// Every WebSocket text frame is a JSON array of five elements:
//
//     [join_ref, ref, topic, event, payload]
//
// join_ref  string or null: the ref of the join that opened the channel.
// ref       string or null: the client's ref, echoed in the server's phx_reply.
// topic     string: "collective:lobby" for the Collective, "phoenix" for heartbeats.
// event     string: phx_join, phx_leave, heartbeat from clients; phx_reply,
//           phx_close, welcome, tick, presence, evolution from the server.
// payload   JSON object.
//
// Input that breaks these rules closes the socket with the close code that
// names the fault (RFC 6455, section 7.4.1): see DecodeError.
#pragma once

#include <QByteArray>
#include <QJsonObject>
#include <QString>

#include <optional>

namespace collective::protocol {

inline constexpr auto lobbyTopic = "collective:lobby";
inline constexpr auto phoenixTopic = "phoenix";

// WebSocket close codes that The Collective sends.
enum class CloseCode : quint16 {
    Normal = 1000,          // idle timeout, or a clean end
    GoingAway = 1001,       // the server shuts down; reconnect later
    ProtocolError = 1002,   // a WebSocket frame RFC 6455 forbids, such as an unmasked one
    UnsupportedData = 1003, // a binary frame
    InvalidPayload = 1007,  // text that is not JSON
    PolicyViolation = 1008, // JSON that is not a V2 frame
    MessageTooBig = 1009,   // a frame over the size limit
};

struct Frame
{
    std::optional<QString> joinRef;
    std::optional<QString> ref;
    QString topic;
    QString event;
    QJsonObject payload;
};

enum class DecodeError {
    None,
    TooLarge,         // over the size limit: 1009
    NotJson,          // not valid JSON text: 1007
    NotFrameArray,    // JSON, but not an array of exactly five elements: 1008
    WrongElementType, // an element of the wrong JSON type: 1008
};

struct DecodeResult
{
    std::optional<Frame> frame;
    DecodeError error = DecodeError::None;
    QString detail; // what was wrong, for debug logs; never holds client text

    bool isValid() const { return frame.has_value(); }
};

// Decodes one client frame of UTF-8 JSON. Frames longer than maxBytes are
// rejected before parsing, so an oversized frame costs no parse.
DecodeResult decodeFrame(const QByteArray &utf8, qsizetype maxBytes);

// The close code for a decode error; Normal for DecodeError::None.
CloseCode closeCodeFor(DecodeError error);

// A short stable name for metrics labels and logs ("not_json", ...).
const char *decodeErrorName(DecodeError error);

// Encodes a frame as compact UTF-8 JSON.
QByteArray encodeFrame(const Frame &frame);

// The server's reply to a client frame: phx_reply with the client's refs.
Frame replyFrame(const Frame &request, bool ok, const QJsonObject &response = {});
Frame errorReplyFrame(const Frame &request, const QString &reason);

// A broadcast on the lobby: join_ref and ref are null, as Phoenix sends them,
// so the same encoded bytes serve every socket.
Frame broadcastFrame(const QString &event, const QJsonObject &payload);

} // namespace collective::protocol
