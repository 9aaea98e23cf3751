// Encoding and decoding of the lobby payloads described in messages.h.
#include "protocol/messages.h"

#include <QJsonArray>
#include <QJsonDocument>

namespace collective::protocol {

namespace {

const QString concurrentKey = QStringLiteral("concurrent_connections");
const QString peakKey = QStringLiteral("peak_connections");
const QString totalKey = QStringLiteral("total_connection_seconds");

// Reads a non-negative integer field. JSON numbers arrive as doubles, so a
// fractional or negative value is rejected rather than truncated.
bool readCount(const QJsonObject &payload, const QString &key, qint64 *out, QString *error)
{
    const QJsonValue value = payload.value(key);
    if (!value.isDouble()) {
        *error = QStringLiteral("field '%1' is missing or not a number").arg(key);
        return false;
    }
    const double number = value.toDouble();
    if (number < 0 || number != static_cast<double>(static_cast<qint64>(number))) {
        *error = QStringLiteral("field '%1' is not a non-negative integer").arg(key);
        return false;
    }
    *out = static_cast<qint64>(number);
    return true;
}

bool readString(const QJsonObject &payload, const QString &key, QString *out, QString *error)
{
    const QJsonValue value = payload.value(key);
    if (!value.isString()) {
        *error = QStringLiteral("field '%1' is missing or not a string").arg(key);
        return false;
    }
    *out = value.toString();
    return true;
}

bool readTimestamp(const QJsonObject &payload, const QString &key, QDateTime *out, QString *error)
{
    QString text;
    if (!readString(payload, key, &text, error))
        return false;
    *out = QDateTime::fromString(text, Qt::ISODateWithMs);
    if (!out->isValid()) {
        *error = QStringLiteral("field '%1' is not an ISO 8601 time").arg(key);
        return false;
    }
    return true;
}

std::optional<MilestoneKind> readKind(const QJsonObject &payload, QString *error)
{
    const QString name = payload.value(QLatin1String("kind")).toString();
    for (MilestoneKind kind : {MilestoneKind::Concurrent, MilestoneKind::Time, MilestoneKind::Compound}) {
        if (milestoneKindName(kind) == name)
            return kind;
    }
    *error = QStringLiteral("field 'kind' is not concurrent, time or compound");
    return std::nullopt;
}

QJsonObject encodeCatalogueEntry(const Milestone &milestone)
{
    return QJsonObject{
        {QStringLiteral("id"), milestone.id},
        {QStringLiteral("name"), milestone.name},
        {QStringLiteral("description"), milestone.description},
        {QStringLiteral("kind"), milestoneKindName(milestone.kind)},
        {QStringLiteral("threshold"), milestone.threshold},
    };
}

std::optional<Milestone> decodeCatalogueEntry(const QJsonObject &entry, QString *error)
{
    Milestone milestone;
    if (!readString(entry, QStringLiteral("id"), &milestone.id, error)
        || !readString(entry, QStringLiteral("name"), &milestone.name, error)
        || !readString(entry, QStringLiteral("description"), &milestone.description, error)
        || !readCount(entry, QStringLiteral("threshold"), &milestone.threshold, error))
        return std::nullopt;
    const auto kind = readKind(entry, error);
    if (!kind)
        return std::nullopt;
    milestone.kind = *kind;
    return milestone;
}

QJsonArray encodeCatalogueArray(const QList<Milestone> &milestones)
{
    QJsonArray catalogue;
    for (const Milestone &milestone : milestones)
        catalogue.append(encodeCatalogueEntry(milestone));
    return catalogue;
}

} // namespace

QString formatTimestamp(const QDateTime &time)
{
    return time.toUTC().toString(Qt::ISODateWithMs);
}

QJsonObject encodeWelcome(const Welcome &welcome)
{
    const QJsonArray catalogue = encodeCatalogueArray(welcome.milestones);
    return QJsonObject{
        {concurrentKey, welcome.snapshot.concurrentConnections},
        {peakKey, welcome.snapshot.peakConnections},
        {totalKey, welcome.snapshot.totalConnectionSeconds},
        {QStringLiteral("unlocked_milestones"), QJsonArray::fromStringList(welcome.snapshot.unlockedMilestones)},
        {QStringLiteral("milestones"), catalogue},
        {QStringLiteral("tick_interval_ms"), welcome.tickIntervalMs},
        {QStringLiteral("server_time"), formatTimestamp(welcome.serverTime)},
    };
}

QByteArray encodeCatalogue(const QList<Milestone> &milestones)
{
    return QJsonDocument(encodeCatalogueArray(milestones)).toJson(QJsonDocument::Compact);
}

QByteArray encodeWelcomeFrame(const Frame &push, const Welcome &welcome, const QByteArray &encodedCatalogue)
{
    Welcome withoutCatalogue = welcome;
    withoutCatalogue.milestones.clear();
    Frame frame = push;
    frame.payload = encodeWelcome(withoutCatalogue);
    QByteArray text = encodeFrame(frame);

    // The first unescaped `"milestones":[]` is the key: every quote inside an
    // encoded string value is escaped, so no value can contain the marker.
    static const QByteArray marker = QByteArrayLiteral("\"milestones\":[]");
    const qsizetype at = text.indexOf(marker);
    Q_ASSERT(at >= 0);
    text.replace(at + marker.size() - 2, 2, encodedCatalogue);
    return text;
}

QJsonObject encodeTick(const Tick &tick)
{
    return QJsonObject{
        {concurrentKey, tick.concurrentConnections},
        {peakKey, tick.peakConnections},
        {totalKey, tick.totalConnectionSeconds},
        {QStringLiteral("tick"), tick.tick},
    };
}

QJsonObject encodePresence(const Presence &presence)
{
    return QJsonObject{
        {concurrentKey, presence.concurrentConnections},
        {peakKey, presence.peakConnections},
    };
}

QJsonObject encodeEvolution(const Evolution &evolution)
{
    return QJsonObject{
        {QStringLiteral("id"), evolution.id},
        {QStringLiteral("name"), evolution.name},
        {QStringLiteral("description"), evolution.description},
        {QStringLiteral("kind"), milestoneKindName(evolution.kind)},
        {QStringLiteral("unlocked_at"), formatTimestamp(evolution.unlockedAt)},
    };
}

std::optional<Welcome> decodeWelcome(const QJsonObject &payload, QString *error)
{
    Welcome welcome;
    Snapshot &snapshot = welcome.snapshot;
    qint64 tickIntervalMs = 0;
    if (!readCount(payload, concurrentKey, &snapshot.concurrentConnections, error)
        || !readCount(payload, peakKey, &snapshot.peakConnections, error)
        || !readCount(payload, totalKey, &snapshot.totalConnectionSeconds, error)
        || !readCount(payload, QStringLiteral("tick_interval_ms"), &tickIntervalMs, error)
        || !readTimestamp(payload, QStringLiteral("server_time"), &welcome.serverTime, error))
        return std::nullopt;
    welcome.tickIntervalMs = static_cast<int>(tickIntervalMs);

    const QJsonValue unlocked = payload.value(QLatin1String("unlocked_milestones"));
    if (!unlocked.isArray()) {
        *error = QStringLiteral("field 'unlocked_milestones' is missing or not an array");
        return std::nullopt;
    }
    for (const QJsonValue &id : unlocked.toArray()) {
        if (!id.isString()) {
            *error = QStringLiteral("field 'unlocked_milestones' holds a value that is not a string");
            return std::nullopt;
        }
        snapshot.unlockedMilestones.append(id.toString());
    }

    const QJsonValue catalogue = payload.value(QLatin1String("milestones"));
    if (!catalogue.isArray()) {
        *error = QStringLiteral("field 'milestones' is missing or not an array");
        return std::nullopt;
    }
    for (const QJsonValue &entry : catalogue.toArray()) {
        auto milestone = decodeCatalogueEntry(entry.toObject(), error);
        if (!milestone)
            return std::nullopt;
        welcome.milestones.append(std::move(*milestone));
    }
    return welcome;
}

std::optional<Tick> decodeTick(const QJsonObject &payload, QString *error)
{
    Tick tick;
    if (!readCount(payload, concurrentKey, &tick.concurrentConnections, error)
        || !readCount(payload, peakKey, &tick.peakConnections, error)
        || !readCount(payload, totalKey, &tick.totalConnectionSeconds, error)
        || !readCount(payload, QStringLiteral("tick"), &tick.tick, error))
        return std::nullopt;
    return tick;
}

std::optional<Presence> decodePresence(const QJsonObject &payload, QString *error)
{
    Presence presence;
    if (!readCount(payload, concurrentKey, &presence.concurrentConnections, error)
        || !readCount(payload, peakKey, &presence.peakConnections, error))
        return std::nullopt;
    return presence;
}

std::optional<Evolution> decodeEvolution(const QJsonObject &payload, QString *error)
{
    Evolution evolution;
    if (!readString(payload, QStringLiteral("id"), &evolution.id, error)
        || !readString(payload, QStringLiteral("name"), &evolution.name, error)
        || !readString(payload, QStringLiteral("description"), &evolution.description, error)
        || !readTimestamp(payload, QStringLiteral("unlocked_at"), &evolution.unlockedAt, error))
        return std::nullopt;
    const auto kind = readKind(payload, error);
    if (!kind)
        return std::nullopt;
    evolution.kind = *kind;
    return evolution;
}

} // namespace collective::protocol
