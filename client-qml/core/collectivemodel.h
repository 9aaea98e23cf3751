// The Collective as the kiosk shows it: the connection state, the latest
// snapshot from the server and the unlocked milestones by name.
//
// The model is fed by LobbyConnection (see lobbyconnection.h): the connection
// state through setConnectionState() and every lobby event through
// applyLobbyEvent(). It stores the exact figures the server sent. Tweening and
// animation belong to the QML scene, which only reads this model.
#pragma once

#include "protocol/catalogue.h"
#include "protocol/messages.h"

#include <QJsonObject>
#include <QObject>
#include <QVariantList>
#include <QVariantMap>

namespace collective::witness {

class CollectiveModel : public QObject
{
    Q_OBJECT
    Q_PROPERTY(ConnectionState connectionState READ connectionState NOTIFY connectionStateChanged)
    Q_PROPERTY(bool joined READ isJoined NOTIFY connectionStateChanged)
    Q_PROPERTY(bool hasSnapshot READ hasSnapshot NOTIFY snapshotChanged)
    Q_PROPERTY(qint64 concurrentConnections READ concurrentConnections NOTIFY snapshotChanged)
    Q_PROPERTY(qint64 peakConnections READ peakConnections NOTIFY snapshotChanged)
    Q_PROPERTY(qint64 totalConnectionSeconds READ totalConnectionSeconds NOTIFY snapshotChanged)
    Q_PROPERTY(QVariantList unlockedMilestones READ unlockedMilestones NOTIFY milestonesChanged)
    Q_PROPERTY(int milestoneCount READ milestoneCount NOTIFY milestonesChanged)
    Q_PROPERTY(QVariantMap lastEvolution READ lastEvolution NOTIFY evolved)
    Q_PROPERTY(int tickIntervalMs READ tickIntervalMs NOTIFY snapshotChanged)

public:
    enum class ConnectionState {
        Connecting, // the socket is opening or the join waits for its reply
        Joined,     // joined to the lobby; the figures are live
        Waiting,    // lost or not reached; the next attempt is scheduled
    };
    Q_ENUM(ConnectionState)

    explicit CollectiveModel(QObject *parent = nullptr);

    ConnectionState connectionState() const { return m_connectionState; }
    bool isJoined() const { return m_connectionState == ConnectionState::Joined; }
    bool hasSnapshot() const { return m_hasSnapshot; }
    qint64 concurrentConnections() const { return m_snapshot.concurrentConnections; }
    qint64 peakConnections() const { return m_snapshot.peakConnections; }
    qint64 totalConnectionSeconds() const { return m_snapshot.totalConnectionSeconds; }
    int tickIntervalMs() const { return m_tickIntervalMs; }
    qint64 lastTick() const { return m_lastTick; }

    // Ids of the unlocked milestones, in the order the server listed or
    // announced them.
    QStringList unlockedMilestoneIds() const { return m_snapshot.unlockedMilestones; }

    // Each unlocked milestone as a map with id, name, description and kind.
    // A name comes from the server's catalogue, else from the built-in one,
    // else it is the id itself.
    QVariantList unlockedMilestones() const;

    // Milestones in the catalogue, unlocked or not.
    int milestoneCount() const { return static_cast<int>(m_catalogue.size()); }

    // The milestone of the latest evolution event (id, name, description,
    // kind, unlockedAt), or an empty map before the first one.
    QVariantMap lastEvolution() const { return m_lastEvolution; }

    // The state as one JSON object, as the state file writes it: connection,
    // concurrent, peak, total_seconds, unlocked.
    QJsonObject toJson() const;

    static QString connectionStateName(ConnectionState state);

public Q_SLOTS:
    void setConnectionState(ConnectionState state);

    // Applies one event of the collective:lobby topic. An unknown event is
    // skipped, and a payload that does not match the schema is logged as a
    // warning and ignored, leaving the model as it was. Returns whether the
    // event was understood and applied.
    bool applyLobbyEvent(const QString &event, const QJsonObject &payload);

Q_SIGNALS:
    void connectionStateChanged();
    void snapshotChanged();
    void milestonesChanged();
    // A milestone unlocked while the kiosk watched. `milestone` is the same
    // map as lastEvolution.
    void evolved(const QVariantMap &milestone);
    // Any of the properties above changed.
    void stateChanged();

private:
    void applyWelcome(const protocol::Welcome &welcome);
    void applyTick(const protocol::Tick &tick);
    void applyPresence(const protocol::Presence &presence);
    void applyEvolution(const protocol::Evolution &evolution);
    void updateFigures(qint64 concurrent, qint64 peak, qint64 totalSeconds);
    void warnIgnored(const QString &event, const QString &error) const;
    QVariantMap describeMilestone(const QString &id) const;

    ConnectionState m_connectionState = ConnectionState::Connecting;
    bool m_hasSnapshot = false;
    protocol::Snapshot m_snapshot;
    QList<protocol::Milestone> m_catalogue; // the server's, or the built-in one
    int m_tickIntervalMs = 0;
    qint64 m_lastTick = -1;
    QVariantMap m_lastEvolution;
};

} // namespace collective::witness
