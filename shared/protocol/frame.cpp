// Phoenix V2 frame decoding and encoding; the format is described in frame.h.
#include "protocol/frame.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonParseError>

namespace collective::protocol {

namespace {

// join_ref and ref are strings or null. The phoenix JS client always sends
// strings; a number would mean a client of another protocol.
bool readRef(const QJsonValue &value, std::optional<QString> *out)
{
    if (value.isNull()) {
        out->reset();
        return true;
    }
    if (!value.isString())
        return false;
    *out = value.toString();
    return true;
}

DecodeResult failure(DecodeError error, const char *detail)
{
    DecodeResult result;
    result.error = error;
    result.detail = QString::fromLatin1(detail);
    return result;
}

QJsonValue refValue(const std::optional<QString> &ref)
{
    return ref ? QJsonValue(*ref) : QJsonValue(QJsonValue::Null);
}

} // namespace

DecodeResult decodeFrame(const QByteArray &utf8, qsizetype maxBytes)
{
    if (utf8.size() > maxBytes)
        return failure(DecodeError::TooLarge, "frame is larger than the size limit");

    QJsonParseError parseError;
    const QJsonDocument document = QJsonDocument::fromJson(utf8, &parseError);
    if (parseError.error != QJsonParseError::NoError)
        return failure(DecodeError::NotJson, "frame is not valid JSON");
    if (!document.isArray())
        return failure(DecodeError::NotFrameArray, "frame is not a JSON array");

    const QJsonArray array = document.array();
    if (array.size() != 5)
        return failure(DecodeError::NotFrameArray, "frame array does not have five elements");

    Frame frame;
    if (!readRef(array.at(0), &frame.joinRef))
        return failure(DecodeError::WrongElementType, "join_ref is neither a string nor null");
    if (!readRef(array.at(1), &frame.ref))
        return failure(DecodeError::WrongElementType, "ref is neither a string nor null");
    if (!array.at(2).isString())
        return failure(DecodeError::WrongElementType, "topic is not a string");
    if (!array.at(3).isString())
        return failure(DecodeError::WrongElementType, "event is not a string");
    if (!array.at(4).isObject())
        return failure(DecodeError::WrongElementType, "payload is not an object");

    frame.topic = array.at(2).toString();
    frame.event = array.at(3).toString();
    frame.payload = array.at(4).toObject();

    DecodeResult result;
    result.frame = std::move(frame);
    return result;
}

CloseCode closeCodeFor(DecodeError error)
{
    switch (error) {
    case DecodeError::None:
        return CloseCode::Normal;
    case DecodeError::TooLarge:
        return CloseCode::MessageTooBig;
    case DecodeError::NotJson:
        return CloseCode::InvalidPayload;
    case DecodeError::NotFrameArray:
    case DecodeError::WrongElementType:
        return CloseCode::PolicyViolation;
    }
    return CloseCode::PolicyViolation;
}

const char *decodeErrorName(DecodeError error)
{
    switch (error) {
    case DecodeError::None:
        return "none";
    case DecodeError::TooLarge:
        return "too_large";
    case DecodeError::NotJson:
        return "not_json";
    case DecodeError::NotFrameArray:
        return "not_frame_array";
    case DecodeError::WrongElementType:
        return "wrong_element_type";
    }
    return "unknown";
}

QByteArray encodeFrame(const Frame &frame)
{
    const QJsonArray array{refValue(frame.joinRef), refValue(frame.ref), frame.topic, frame.event,
                           frame.payload};
    return QJsonDocument(array).toJson(QJsonDocument::Compact);
}

Frame replyFrame(const Frame &request, bool ok, const QJsonObject &response)
{
    Frame reply;
    reply.joinRef = request.joinRef;
    reply.ref = request.ref;
    reply.topic = request.topic;
    reply.event = QStringLiteral("phx_reply");
    reply.payload = QJsonObject{
        {QStringLiteral("status"), ok ? QStringLiteral("ok") : QStringLiteral("error")},
        {QStringLiteral("response"), response},
    };
    return reply;
}

Frame errorReplyFrame(const Frame &request, const QString &reason)
{
    return replyFrame(request, false, QJsonObject{{QStringLiteral("reason"), reason}});
}

Frame broadcastFrame(const QString &event, const QJsonObject &payload)
{
    Frame frame;
    frame.topic = QString::fromLatin1(lobbyTopic);
    frame.event = event;
    frame.payload = payload;
    return frame;
}

} // namespace collective::protocol
