// The Collective's messages on the lobby topic: the payloads of welcome,
// tick, presence and evolution. The server encodes them, the kiosk decodes
// them; shared/schema/messages.schema.json is their machine-readable form.
#pragma once

#include "protocol/catalogue.h"
#include "protocol/frame.h"

#include <QDateTime>
#include <QJsonObject>
#include <QStringList>

#include <optional>

namespace collective::protocol {

namespace events {
inline constexpr auto welcome = "welcome";
inline constexpr auto tick = "tick";
inline constexpr auto presence = "presence";
inline constexpr auto evolution = "evolution";
} // namespace events

// What every witness sees: the global state of the Collective.
struct Snapshot
{
    qint64 concurrentConnections = 0;
    qint64 peakConnections = 0;
    qint64 totalConnectionSeconds = 0;
    QStringList unlockedMilestones; // ids, in unlock order where known
};

struct Welcome
{
    Snapshot snapshot;
    QList<Milestone> milestones; // the catalogue as the server sent it (no rules)
    int tickIntervalMs = 0;
    QDateTime serverTime;
};

struct Tick
{
    qint64 concurrentConnections = 0;
    qint64 peakConnections = 0;
    qint64 totalConnectionSeconds = 0;
    qint64 tick = 0;
};

struct Presence
{
    qint64 concurrentConnections = 0;
    qint64 peakConnections = 0;
};

struct Evolution
{
    QString id;
    QString name;
    QString description;
    MilestoneKind kind = MilestoneKind::Concurrent;
    QDateTime unlockedAt;
};

QJsonObject encodeWelcome(const Welcome &welcome);

// The welcome's "milestones" array as compact JSON. It is most of a
// welcome's bytes and the same for every witness, so a server encodes it once.
QByteArray encodeCatalogue(const QList<Milestone> &milestones);

// Returns the same bytes as encodeFrame() of `push` with
// encodeWelcome(welcome) as its payload. The catalogue is spliced in from
// encodeCatalogue() instead of encoded again, so welcome.milestones is
// ignored. Encoding the catalogue took most of the 69 µs a welcome cost
// (measured with Qt 6.4 and 16 milestones on the benchmark machine).
QByteArray encodeWelcomeFrame(const Frame &push, const Welcome &welcome, const QByteArray &encodedCatalogue);
QJsonObject encodeTick(const Tick &tick);
QJsonObject encodePresence(const Presence &presence);
QJsonObject encodeEvolution(const Evolution &evolution);

// Decoders return nothing and set *error when a required field is missing or
// has the wrong type, so a client can ignore and log a bad message.
std::optional<Welcome> decodeWelcome(const QJsonObject &payload, QString *error);
std::optional<Tick> decodeTick(const QJsonObject &payload, QString *error);
std::optional<Presence> decodePresence(const QJsonObject &payload, QString *error);
std::optional<Evolution> decodeEvolution(const QJsonObject &payload, QString *error);

// UTC, ISO 8601 with milliseconds: "2026-12-04T20:19:01.123Z".
QString formatTimestamp(const QDateTime &time);

} // namespace collective::protocol
