// The kiosk's side of the Phoenix Channels protocol (serializer V2): one
// WebSocket to the server, joined to collective:lobby, kept alive for weeks.
//
// Lifecycle of one attempt:
//   1. open ws://HOST:PORT/socket/websocket?vsn=2.0.0             (Connecting)
//   2. send  [ref, ref, "collective:lobby", "phx_join", {}]
//   3. get   phx_reply {"status":"ok"} for that ref               (Joined)
//      then  welcome, and later tick, presence and evolution, which
//      lobbyEventReceived() hands on unchanged.
//   4. every heartbeatInterval send [null, ref, "phoenix", "heartbeat", {}];
//      the server closes a socket that sends nothing for 60 s.
//
// The attempt is abandoned and the next one scheduled by ReconnectPolicy
// (state Waiting) in any of these cases:
//   - the socket closes or fails;
//   - the join is not confirmed within joinTimeout;
//   - the server rejects the join or closes the channel (phx_close, phx_error);
//   - a heartbeat gets no reply before the next one is due. The last case catches a network that vanished
// without closing TCP, which the socket alone would notice only after many
// minutes. There is no final failure: the connection retries until the
// application quits.
#pragma once

#include "collectivemodel.h"
#include "reconnectpolicy.h"

#include "protocol/frame.h"

#include <QJsonObject>
#include <QObject>
#include <QPointer>
#include <QTimer>
#include <QUrl>

#include <chrono>
#include <optional>

class QWebSocket;

namespace collective::witness {

struct ConnectionSettings
{
    // The WebSocket endpoint, already normalised (see WitnessOptions).
    QUrl url;
    ReconnectSettings reconnect;
    // Half the server's default idle timeout of 60 s, the same interval as
    // the phoenix JavaScript client.
    std::chrono::milliseconds heartbeatInterval{30000};
    // Time from opening the socket to the join reply. A server that accepts
    // TCP but never replies must not hold the kiosk in Connecting for ever.
    std::chrono::milliseconds joinTimeout{10000};
    // Server frames above this size are ignored. The welcome, the largest
    // frame, is about 4 KB with the built-in catalogue.
    qsizetype maxFrameBytes = 1024 * 1024;
};

class LobbyConnection : public QObject
{
    Q_OBJECT

public:
    using State = CollectiveModel::ConnectionState;

    explicit LobbyConnection(ConnectionSettings settings, QObject *parent = nullptr);
    // Replaces the policy, so tests can inject a random source.
    LobbyConnection(ConnectionSettings settings, ReconnectPolicy policy, QObject *parent = nullptr);
    ~LobbyConnection() override;

    // Opens the first socket. Later attempts are scheduled on their own.
    void start();

    State state() const { return m_state; }
    const ReconnectPolicy &policy() const { return m_policy; }
    const ConnectionSettings &settings() const { return m_settings; }

public Q_SLOTS:
    // Handles one text frame from the server. A frame that is not a Phoenix
    // V2 frame is logged as a warning and ignored; the socket stays open.
    void handleTextFrame(const QString &text);

Q_SIGNALS:
    void stateChanged(collective::witness::LobbyConnection::State state);
    // An event on collective:lobby other than the protocol's own replies.
    void lobbyEventReceived(const QString &event, const QJsonObject &payload);
    // The current attempt was given up; the next starts after delayMs.
    void retryScheduled(qint64 delayMs, const QString &reason);

private:
    void openSocket();
    void dropSocket();
    void retryLater(const QString &reason);
    void setState(State state);

    void handleSocketConnected();
    void handleSocketLost(const QString &reason);
    void handleJoinReply(const protocol::Frame &frame);
    void handleHeartbeatDue();
    void sendFrame(const protocol::Frame &frame);
    QString takeRef();

    ConnectionSettings m_settings;
    ReconnectPolicy m_policy;
    State m_state = State::Connecting;
    QPointer<QWebSocket> m_socket;    // one per attempt, deleted when it ends
    QTimer m_retryTimer;              // waits out the backoff delay
    QTimer m_joinTimer;               // limits one attempt until the join reply
    QTimer m_heartbeatTimer;          // sends heartbeats while the socket is open
    quint64 m_nextRef = 1;            // refs are unique per socket; counted across sockets
    QString m_joinRef;                // the ref of the pending or accepted join
    std::optional<QString> m_pendingHeartbeatRef; // a heartbeat still without reply
};

} // namespace collective::witness
