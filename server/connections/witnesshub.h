// A WitnessHub owns the connections of one event-loop thread: its own
// listening socket (all hubs share the port through SO_REUSEPORT, so the
// kernel spreads new connections over them), the WebSockets of its
// witnesses, and a QHttpServer for plain HTTP requests.
//
// WebSockets are served on bare descriptors in an epoll set, not as Qt
// socket objects. An idle witness then costs a small struct and whatever
// the kernel keeps for its TCP connection, and a wakeup touches only the
// sockets that are ready. The Qt event loop watches the epoll descriptor
// through one QSocketNotifier. A new connection's first request is peeked
// at: an upgrade is handled here (RFC 6455 handshake, see websocket/),
// anything else is handed whole to Qt HttpServer.
//
// Protocol handling per socket (Phoenix Channels V2, see protocol/frame.h):
//   phoenix/heartbeat           reply ok
//   collective:lobby/phx_join   reply ok, then a welcome; the socket becomes a witness
//   collective:lobby/phx_leave  reply ok, then phx_close; the witness stops counting
//   other event on the lobby    reply error "unknown event" (unmatched topic if not joined)
//   any event on another topic  reply error "unmatched topic"; the socket stays open
//   malformed input             close with 1002, 1003, 1007, 1008 or 1009 (see CloseCode)
//   silence past the idle timeout  close with 1000 "idle timeout"
//
// Every method runs in the hub's own thread; other threads reach it through
// queued calls only.
#pragma once

#include "connections/admission.h"
#include "connections/fanout.h"
#include "http/httpendpoint.h"
#include "http/originpolicy.h"
#include "protocol/catalogue.h"
#include "protocol/frame.h"
#include "status/nodestatus.h"
#include "websocket/framereader.h"
#include "websocket/handshake.h"

#include <QByteArray>
#include <QLoggingCategory>
#include <QMutex>
#include <QObject>
#include <QPointer>
#include <QTimer>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

class QSocketNotifier;
class QTcpSocket;

namespace collective {

Q_DECLARE_LOGGING_CATEGORY(lcSocket)

class AdmittingTcpServer;

struct HubSettings
{
    int idleTimeoutMs = 60000;
    int maxFrameBytes = 4096;
    qint64 maxConnections = 10000;     // open WebSockets per process; further upgrades get 503
    qint64 maxHeldConnections = 10500; // accepted connections of any kind before accepting pauses
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

    // Queues broadcast frames; frames queued together reach each witness in
    // one write. Safe from any thread. Returns true when the hub must be
    // woken with sendQueued(), false when a wakeup is already due.
    bool queueBroadcasts(const QList<WireFrame> &frames);

    // Writes the queued frames to the witnesses, in passes (see fanout.h).
    void sendQueued();

    // Stops accepting and closes every socket with `code`, each witness at a
    // random moment within windowMs; for shutdown.
    void closeAll(protocol::CloseCode code, const QString &reason, int windowMs);

private:
    struct Connection;

    enum class Phase : quint8 {
        Handshake, // accepted; its first request has not fully arrived
        Open,      // a WebSocket
        Closing,   // our close frame or HTTP rejection is sent; reading until the peer closes
        Gone,      // descriptor closed; freed after the current pass
    };

    // Accepting and the opening handshake.
    void accept(int descriptor, quint64 admissionKey);
    void readHandshake(Connection *connection, bool peerClosed);
    void upgrade(Connection *connection, const websocket::RequestHead &head);
    void rejectRequest(Connection *connection, int status, QByteArrayView body, QByteArrayView extraHeaders = {});
    void handOverToHttp(Connection *connection);

    // Reading and writing a WebSocket.
    void pollReady();
    void readFrames(Connection *connection);
    bool handleMessage(Connection *connection, websocket::Message &&message);
    void writeBytes(Connection *connection, QByteArrayView bytes);
    void flushBacklog(Connection *connection);
    void closeIfBacklogOverLimit(Connection *connection);
    void watch(Connection *connection, bool writable);
    QList<WireFrame> takeQueued();

    // The Phoenix protocol on top.
    void handleText(Connection *connection, const QByteArray &text);
    void dispatch(Connection *connection, const protocol::Frame &frame);
    void join(Connection *connection, const protocol::Frame &frame);
    void leave(Connection *connection, const protocol::Frame &frame);
    void send(Connection *connection, const protocol::Frame &frame);
    void reject(Connection *connection, NodeMetrics::RejectReason reason, protocol::CloseCode code,
                const QByteArray &detail);

    // Closing and freeing.
    void closeWebSocket(Connection *connection, quint16 code, const QByteArray &reason);
    void sendLastBytes(Connection *connection, QByteArrayView bytes);
    void drop(Connection *connection);
    void freeDropped();
    void sweep();
    void startDeadlineTimer();
    void enforceDeadlines();
    void closeHttpPastTimeout(qint64 now);
    void updateAccepting();
    void noteCapacity(bool full);

    const int m_index;
    int m_listeningDescriptor;
    const HubSettings m_settings;
    NodeStatus *m_status;
    Admission *m_admission;
    RouteInstaller m_installRoutes;
    std::function<void()> m_witnessCountChanged;
    const QByteArray m_encodedCatalogue; // every welcome's "milestones", encoded once

    AdmittingTcpServer *m_tcpServer = nullptr;
    HttpEndpoint *m_httpServer = nullptr;
    int m_epoll = -1;
    QSocketNotifier *m_epollNotifier = nullptr;
    QTimer m_sweepTimer;
    QTimer m_deadlineTimer; // runs while a close waits for its peer or its moment
    std::unique_ptr<char[]> m_readBuffer; // every read of this thread lands here first

    std::vector<Connection *> m_connections; // every connection not yet freed, Gone ones included
    std::vector<Connection *> m_dropped;     // Gone, freed by freeDropped()

    QMutex m_queueMutex;                  // guards m_queued
    QList<WireFrame> m_queued;            // broadcast frames not yet taken by a pass
    std::atomic<bool> m_queuedAny{false}; // read by a running pass without the lock

    // Plain HTTP connections handed to Qt, cut at the handshake timeout.
    struct HttpConnection
    {
        QPointer<QTcpSocket> socket;
        qint64 acceptedAtMs = 0;
    };
    std::vector<HttpConnection> m_httpConnections;

    bool m_acceptingPaused = false;
    bool m_closing = false;
    quint16 m_shutdownCode = 1001;
    QByteArray m_shutdownReason;
};

} // namespace collective
