#include "wire.h"

#include <cctype>

namespace loadgen {

void appendClientFrame(std::string *out, Opcode opcode, std::string_view payload, std::uint32_t maskKey)
{
    out->push_back(char(0x80 | std::uint8_t(opcode)));

    const std::uint64_t length = payload.size();
    if (length < 126) {
        out->push_back(char(0x80 | length));
    } else if (length <= 0xFFFF) {
        out->push_back(char(0x80 | 126));
        out->push_back(char(length >> 8));
        out->push_back(char(length & 0xFF));
    } else {
        out->push_back(char(0x80 | 127));
        for (int shift = 56; shift >= 0; shift -= 8)
            out->push_back(char((length >> shift) & 0xFF));
    }

    const unsigned char mask[4] = {std::uint8_t(maskKey >> 24), std::uint8_t(maskKey >> 16),
                                   std::uint8_t(maskKey >> 8), std::uint8_t(maskKey)};
    out->append(reinterpret_cast<const char *>(mask), 4);
    for (std::size_t index = 0; index < payload.size(); ++index)
        out->push_back(char(std::uint8_t(payload[index]) ^ mask[index % 4]));
}

HeaderStatus readServerFrameHeader(std::string_view data, FrameHeader *header)
{
    if (data.size() < 2)
        return HeaderStatus::NeedMore;
    const auto first = std::uint8_t(data[0]);
    const auto second = std::uint8_t(data[1]);
    if ((first & 0x70) != 0 || (second & 0x80) != 0)
        return HeaderStatus::Invalid;

    header->fin = (first & 0x80) != 0;
    header->opcode = first & 0x0F;
    const std::uint64_t shortLength = second & 0x7F;
    std::size_t headerBytes = 2;
    std::uint64_t length = shortLength;
    if (shortLength == 126) {
        headerBytes = 4;
        if (data.size() < headerBytes)
            return HeaderStatus::NeedMore;
        length = (std::uint64_t(std::uint8_t(data[2])) << 8) | std::uint8_t(data[3]);
    } else if (shortLength == 127) {
        headerBytes = 10;
        if (data.size() < headerBytes)
            return HeaderStatus::NeedMore;
        length = 0;
        for (std::size_t index = 2; index < 10; ++index)
            length = (length << 8) | std::uint8_t(data[index]);
    }

    const bool control = (header->opcode & 0x08) != 0;
    if (control && (length > 125 || !header->fin))
        return HeaderStatus::Invalid;

    header->headerBytes = headerBytes;
    header->payloadBytes = length;
    return HeaderStatus::Complete;
}

namespace {

std::string_view trimmed(std::string_view text)
{
    while (!text.empty() && std::isspace(std::uint8_t(text.front())))
        text.remove_prefix(1);
    while (!text.empty() && std::isspace(std::uint8_t(text.back())))
        text.remove_suffix(1);
    return text;
}

std::string_view unquoted(std::string_view element)
{
    if (element.size() >= 2 && element.front() == '"' && element.back() == '"')
        return element.substr(1, element.size() - 2);
    return element;
}

} // namespace

bool splitPhoenixFrame(std::string_view text, PhoenixFrame *frame)
{
    text = trimmed(text);
    if (text.size() < 2 || text.front() != '[' || text.back() != ']')
        return false;
    const std::string_view body = text.substr(1, text.size() - 2);

    std::string_view elements[5];
    int count = 0;
    int depth = 0;
    bool inString = false;
    std::size_t start = 0;
    for (std::size_t index = 0; index < body.size(); ++index) {
        const char c = body[index];
        if (inString) {
            if (c == '\\')
                ++index;
            else if (c == '"')
                inString = false;
            continue;
        }
        if (c == '"') {
            inString = true;
        } else if (c == '[' || c == '{') {
            ++depth;
        } else if (c == ']' || c == '}') {
            --depth;
        } else if (c == ',' && depth == 0) {
            if (count == 4)
                return false;
            elements[count++] = trimmed(body.substr(start, index - start));
            start = index + 1;
        }
    }
    if (count != 4 || inString || depth != 0)
        return false;
    elements[4] = trimmed(body.substr(start));

    frame->joinRef = unquoted(elements[0]);
    frame->ref = unquoted(elements[1]);
    frame->topic = unquoted(elements[2]);
    frame->event = unquoted(elements[3]);
    frame->payload = elements[4];
    return true;
}

std::optional<std::int64_t> integerMember(std::string_view object, std::string_view key)
{
    // NOTE: a plain search, which can match the key inside a nested object
    // or a string value. The payload it reads (tick) is flat and numeric.
    std::string quotedKey;
    quotedKey.reserve(key.size() + 2);
    quotedKey.push_back('"');
    quotedKey.append(key);
    quotedKey.push_back('"');

    std::size_t position = object.find(quotedKey);
    while (position != std::string_view::npos) {
        std::size_t cursor = position + quotedKey.size();
        while (cursor < object.size() && std::isspace(std::uint8_t(object[cursor])))
            ++cursor;
        if (cursor < object.size() && object[cursor] == ':') {
            ++cursor;
            while (cursor < object.size() && std::isspace(std::uint8_t(object[cursor])))
                ++cursor;
            bool negative = false;
            if (cursor < object.size() && object[cursor] == '-') {
                negative = true;
                ++cursor;
            }
            if (cursor >= object.size() || !std::isdigit(std::uint8_t(object[cursor])))
                return std::nullopt;
            std::int64_t value = 0;
            while (cursor < object.size() && std::isdigit(std::uint8_t(object[cursor])))
                value = value * 10 + (object[cursor++] - '0');
            return negative ? -value : value;
        }
        position = object.find(quotedKey, position + 1);
    }
    return std::nullopt;
}

bool replyIsOk(std::string_view payload)
{
    const std::size_t position = payload.find("\"status\"");
    if (position == std::string_view::npos)
        return false;
    std::string_view rest = payload.substr(position + 8);
    while (!rest.empty() && (std::isspace(std::uint8_t(rest.front())) || rest.front() == ':'))
        rest.remove_prefix(1);
    return rest.rfind("\"ok\"", 0) == 0;
}

} // namespace loadgen
