#include "collectivemodel.h"

#include "witnesslog.h"

#include <QJsonArray>

namespace collective::witness {

namespace pr = collective::protocol;

CollectiveModel::CollectiveModel(QObject *parent)
    : QObject(parent)
    , m_catalogue(pr::Catalogue::builtin().milestones())
{
}

QString CollectiveModel::connectionStateName(ConnectionState state)
{
    switch (state) {
    case ConnectionState::Connecting:
        return QStringLiteral("connecting");
    case ConnectionState::Joined:
        return QStringLiteral("joined");
    case ConnectionState::Waiting:
        return QStringLiteral("waiting");
    }
    return QString();
}

void CollectiveModel::setConnectionState(ConnectionState state)
{
    if (state == m_connectionState)
        return;
    m_connectionState = state;
    Q_EMIT connectionStateChanged();
    Q_EMIT stateChanged();
}

bool CollectiveModel::applyLobbyEvent(const QString &event, const QJsonObject &payload)
{
    QString error;
    if (event == QLatin1String(pr::events::welcome)) {
        const auto welcome = pr::decodeWelcome(payload, &error);
        if (welcome)
            applyWelcome(*welcome);
        else
            warnIgnored(event, error);
        return welcome.has_value();
    }
    if (event == QLatin1String(pr::events::tick)) {
        const auto tick = pr::decodeTick(payload, &error);
        if (tick)
            applyTick(*tick);
        else
            warnIgnored(event, error);
        return tick.has_value();
    }
    if (event == QLatin1String(pr::events::presence)) {
        const auto presence = pr::decodePresence(payload, &error);
        if (presence)
            applyPresence(*presence);
        else
            warnIgnored(event, error);
        return presence.has_value();
    }
    if (event == QLatin1String(pr::events::evolution)) {
        const auto evolution = pr::decodeEvolution(payload, &error);
        if (evolution)
            applyEvolution(*evolution);
        else
            warnIgnored(event, error);
        return evolution.has_value();
    }

    // A newer server may send events this kiosk does not know; they are
    // harmless to skip.
    qCDebug(lcWitness, "Skipped the unknown lobby event '%s'.", qUtf8Printable(event));
    return false;
}

void CollectiveModel::warnIgnored(const QString &event, const QString &error) const
{
    qCWarning(lcWitness, "Ignored a '%s' message from the server: %s. The kiosk keeps its last state.",
              qUtf8Printable(event), qUtf8Printable(error));
}

void CollectiveModel::applyWelcome(const pr::Welcome &welcome)
{
    // The welcome is the whole truth after each join, so it replaces
    // everything, including a smaller total after a store was reset.
    m_snapshot = welcome.snapshot;
    m_tickIntervalMs = welcome.tickIntervalMs;
    m_hasSnapshot = true;
    if (!welcome.milestones.isEmpty())
        m_catalogue = welcome.milestones;

    Q_EMIT snapshotChanged();
    Q_EMIT milestonesChanged();
    Q_EMIT stateChanged();
}

void CollectiveModel::updateFigures(qint64 concurrent, qint64 peak, qint64 totalSeconds)
{
    if (concurrent == m_snapshot.concurrentConnections && peak == m_snapshot.peakConnections
        && totalSeconds == m_snapshot.totalConnectionSeconds)
        return;
    m_snapshot.concurrentConnections = concurrent;
    m_snapshot.peakConnections = peak;
    m_snapshot.totalConnectionSeconds = totalSeconds;
    Q_EMIT snapshotChanged();
    Q_EMIT stateChanged();
}

void CollectiveModel::applyTick(const pr::Tick &tick)
{
    m_lastTick = tick.tick;
    updateFigures(tick.concurrentConnections, tick.peakConnections, tick.totalConnectionSeconds);
}

void CollectiveModel::applyPresence(const pr::Presence &presence)
{
    updateFigures(presence.concurrentConnections, presence.peakConnections, m_snapshot.totalConnectionSeconds);
}

void CollectiveModel::applyEvolution(const pr::Evolution &evolution)
{
    // The server announces each milestone once, but a kiosk that joined
    // between the unlock and its broadcast already has it from the welcome.
    if (m_snapshot.unlockedMilestones.contains(evolution.id)) {
        qCDebug(lcWitness, "Skipped the evolution '%s': it is already unlocked.", qUtf8Printable(evolution.id));
        return;
    }
    m_snapshot.unlockedMilestones.append(evolution.id);

    m_lastEvolution = QVariantMap{
        {QStringLiteral("id"), evolution.id},
        {QStringLiteral("name"), evolution.name},
        {QStringLiteral("description"), evolution.description},
        {QStringLiteral("kind"), pr::milestoneKindName(evolution.kind)},
        {QStringLiteral("unlockedAt"), evolution.unlockedAt},
    };
    qCInfo(lcWitness, "The Collective evolved: '%s' unlocked.", qUtf8Printable(evolution.id));

    Q_EMIT milestonesChanged();
    Q_EMIT evolved(m_lastEvolution);
    Q_EMIT stateChanged();
}

QVariantMap CollectiveModel::describeMilestone(const QString &id) const
{
    const pr::Milestone *found = nullptr;
    for (const pr::Milestone &milestone : m_catalogue) {
        if (milestone.id == id) {
            found = &milestone;
            break;
        }
    }
    if (!found)
        found = pr::Catalogue::builtin().find(id);
    if (!found) {
        return QVariantMap{{QStringLiteral("id"), id}, {QStringLiteral("name"), id},
                           {QStringLiteral("description"), QString()}, {QStringLiteral("kind"), QString()}};
    }
    return QVariantMap{
        {QStringLiteral("id"), found->id},
        {QStringLiteral("name"), found->name},
        {QStringLiteral("description"), found->description},
        {QStringLiteral("kind"), pr::milestoneKindName(found->kind)},
    };
}

QVariantList CollectiveModel::unlockedMilestones() const
{
    QVariantList list;
    list.reserve(m_snapshot.unlockedMilestones.size());
    for (const QString &id : m_snapshot.unlockedMilestones)
        list.append(describeMilestone(id));
    return list;
}

QJsonObject CollectiveModel::toJson() const
{
    return QJsonObject{
        {QStringLiteral("connection"), connectionStateName(m_connectionState)},
        {QStringLiteral("concurrent"), m_snapshot.concurrentConnections},
        {QStringLiteral("peak"), m_snapshot.peakConnections},
        {QStringLiteral("total_seconds"), m_snapshot.totalConnectionSeconds},
        {QStringLiteral("unlocked"), QJsonArray::fromStringList(m_snapshot.unlockedMilestones)},
    };
}

} // namespace collective::witness
