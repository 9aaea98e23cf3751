// A WitnessHub owns the sockets of one event-loop thread: its own listening
// socket (all hubs share the port through SO_REUSEPORT, so the kernel spreads
// new connections over them), a QHttpServer for HTTP routes and WebSocket
// upgrades, and the witnesses that joined through it.
//
// Protocol handling per socket (Phoenix Channels V2, see protocol/frame.h):
//   phoenix/heartbeat           reply ok
//   collective:lobby/phx_join   reply ok, then a welcome; the socket becomes a witness
//   collective:lobby/phx_leave  reply ok, then phx_close; the witness stops counting
//   other event on the lobby    reply error "unknown event" (unmatched topic if not joined)
//   any event on another topic  reply error "unmatched topic"; the socket stays open
//   malformed input             close with 1003, 1007, 1008 or 1009 (see CloseCode)
//   silence past the idle timeout  close with 1000 "idle timeout"
//
// Every method runs in the hub's own thread; other threads reach it through
// queued calls only.
#pragma once

#include "connections/admission.h"
#include "http/httpendpoint.h"
#include "protocol/catalogue.h"
#include "protocol/frame.h"
#include "status/nodestatus.h"

#include <QHash>
#include <QLoggingCategory>
#include <QObject>
#include <QPointer>
#include <QTimer>

#include <functional>
#include <optional>

class QTcpServer;
class QTcpSocket;
class QWebSocket;

namespace collective {

Q_DECLARE_LOGGING_CATEGORY(lcSocket)

struct HubSettings
{
    int idleTimeoutMs = 60000;
    int maxFrameBytes = 4096;
    qint64 maxConnections = 10000; // open WebSockets per process before accepting pauses
    int tickIntervalMs = 5000;     // sent in the welcome so clients can pace animations
    int handshakeTimeoutMs = 10000; // accepted to upgraded, at most
    qint64 maxBacklogBytes = 65536; // unsent bytes before a socket is closed
    OriginPolicy originPolicy;
};

class WitnessHub : public QObject
{
    Q_OBJECT

public:
    using RouteInstaller = std::function<void(HttpEndpoint &)>;

    WitnessHub(int index, int listeningDescriptor, const HubSettings &settings, NodeStatus *status,
               Admission *admission, const protocol::Catalogue &catalogue, RouteInstaller installRoutes,
               std::function<void()> witnessCountChanged);
    ~WitnessHub() override;

    // Takes over the listening socket and starts serving. Called in the hub's
    // thread; returns false with *error when the socket cannot be used.
    bool start(QString *error);

    // Writes one WebSocket frame (see websocketframe.h) to every joined
    // witness of this hub, except those whose welcome showed board version
    // `version` or newer.
    void broadcast(const QByteArray &wireFrame, quint64 version);

    // Stops accepting and closes every socket with `code`, each witness at a
    // random moment within windowMs; for shutdown.
    void closeAll(protocol::CloseCode code, const QString &reason, int windowMs);

    int socketCount() const { return int(m_sessions.size()); }

private:
    struct Session
    {
        std::optional<QString> joinRef; // set while joined to the lobby
        quint64 welcomeVersion = 0;     // the board version its welcome showed
        qint64 lastFrameAtMs = 0;
        bool closedByServer = false;
        QTimer *closeTimer = nullptr; // set while a rejected socket waits to close
        qint64 closeDeadlineMs = 0;
        std::function<void()> releaseAdmission; // frees the address's place on disconnect
        // The TCP connection under the QWebSocket, which broadcasts write
        // framed bytes to directly. It lives as long as the QWebSocket.
        QTcpSocket *transport = nullptr;
    };

    void adoptPendingSockets();
    void adopt(QWebSocket *socket);
    void handleText(QWebSocket *socket, const QString &text);
    void handleBinary(QWebSocket *socket);
    void handleDisconnect(QWebSocket *socket);
    void dispatch(QWebSocket *socket, Session &session, const protocol::Frame &frame);
    void join(QWebSocket *socket, Session &session, const protocol::Frame &frame);
    void leave(QWebSocket *socket, Session &session, const protocol::Frame &frame);
    void send(QWebSocket *socket, const protocol::Frame &frame);
    void reject(QWebSocket *socket, Session &session, NodeMetrics::RejectReason reason,
                protocol::CloseCode code, const QString &detail);
    void extendQuietClose(Session &session);
    void sweepIdleSockets();
    void trackHandshake(QTcpSocket *socket, const std::function<void()> &releaseAdmission);
    void closeHandshakesPastTimeout(qint64 now);
    void updateAccepting();

    const int m_index;
    int m_listeningDescriptor;
    const HubSettings m_settings;
    NodeStatus *m_status;
    Admission *m_admission;
    const protocol::Catalogue &m_catalogue;
    RouteInstaller m_installRoutes;
    std::function<void()> m_witnessCountChanged;

    QTcpServer *m_tcpServer = nullptr;
    HttpEndpoint *m_httpServer = nullptr;
    QTimer m_sweepTimer;
    QHash<QWebSocket *, Session> m_sessions;

    // Accepted TCP connections not yet upgraded, by (address key, port).
    struct Handshake
    {
        QPointer<QTcpSocket> socket;
        qint64 acceptedAtMs = 0;
        std::function<void()> releaseAdmission;
    };
    QHash<QPair<quint64, quint16>, Handshake> m_handshakes;
    bool m_acceptingPaused = false;
    bool m_closing = false;
};

} // namespace collective
