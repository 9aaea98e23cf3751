// The client side of the wire: WebSocket framing (RFC 6455) and a minimal
// reader of Phoenix Channels V2 frames. It reads only what the load
// generator needs and does not validate JSON.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace loadgen {

enum class Opcode : std::uint8_t {
    Continuation = 0x0,
    Text = 0x1,
    Binary = 0x2,
    Close = 0x8,
    Ping = 0x9,
    Pong = 0xA,
};

// Appends one masked client frame (FIN set) to *out. Clients must mask
// every frame; maskKey is the 4-byte masking key.
void appendClientFrame(std::string *out, Opcode opcode, std::string_view payload, std::uint32_t maskKey);

struct FrameHeader {
    bool fin = false;
    std::uint8_t opcode = 0;
    std::size_t headerBytes = 0;
    std::uint64_t payloadBytes = 0;
};

enum class HeaderStatus { NeedMore, Complete, Invalid };

// Reads the header of a server frame at the start of data. Server frames
// are never masked; a masked one, reserved bits or a control frame over
// 125 bytes is Invalid.
HeaderStatus readServerFrameHeader(std::string_view data, FrameHeader *header);

// The five elements of [join_ref, ref, topic, event, payload]. String
// elements are given without their quotes; null is "null"; payload is the
// raw JSON object.
struct PhoenixFrame {
    std::string_view joinRef;
    std::string_view ref;
    std::string_view topic;
    std::string_view event;
    std::string_view payload;
};

// Splits a V2 frame into its elements. Returns false when the text is not
// a five-element array. Escapes inside strings are skipped, not decoded.
bool splitPhoenixFrame(std::string_view text, PhoenixFrame *frame);

// The integer value of "key" in a flat JSON object such as a tick payload.
std::optional<std::int64_t> integerMember(std::string_view object, std::string_view key);

// True when a phx_reply payload has "status":"ok".
bool replyIsOk(std::string_view payload);

} // namespace loadgen
