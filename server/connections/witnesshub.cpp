// One socket thread's listener, HTTP server and witnesses (see witnesshub.h).
#include "connections/witnesshub.h"

#include "connections/admittingserver.h"
#include "protocol/messages.h"

#include <QDateTime>
#include <QElapsedTimer>
#include <QTcpServer>
#include <QRandomGenerator>
#include <QTcpSocket>
#include <QUrlQuery>
#include <QWebSocket>

#include <unistd.h>

namespace collective {

Q_LOGGING_CATEGORY(lcSocket, "collective.socket")

using protocol::CloseCode;
using protocol::Frame;

namespace {

const QString heartbeatEvent = QStringLiteral("heartbeat");
const QString joinEvent = QStringLiteral("phx_join");
const QString leaveEvent = QStringLiteral("phx_leave");
const QString closeEvent = QStringLiteral("phx_close");

QWebSocketProtocol::CloseCode toQt(CloseCode code)
{
    return static_cast<QWebSocketProtocol::CloseCode>(static_cast<quint16>(code));
}

NodeMetrics::RejectReason rejectReasonFor(protocol::DecodeError error)
{
    switch (error) {
    case protocol::DecodeError::TooLarge:
        return NodeMetrics::TooLarge;
    case protocol::DecodeError::NotJson:
        return NodeMetrics::NotJson;
    case protocol::DecodeError::NotFrameArray:
        return NodeMetrics::NotFrameArray;
    case protocol::DecodeError::WrongElementType:
    case protocol::DecodeError::None:
        break;
    }
    return NodeMetrics::WrongElementType;
}

// A rejected socket is closed once its client has sent nothing for
// closeQuietMs, or after closeDeadlineMs at the latest.
constexpr int closeQuietMs = 50;
constexpr qint64 closeDeadlineMs = 1000;

void bump(std::atomic<qint64> &counter, qint64 by = 1)
{
    counter.fetch_add(by, std::memory_order_relaxed);
}

} // namespace

WitnessHub::WitnessHub(int index, int listeningDescriptor, const HubSettings &settings, NodeStatus *status,
                       Admission *admission, const protocol::Catalogue &catalogue, RouteInstaller installRoutes,
                       std::function<void()> witnessCountChanged)
    : m_index(index),
      m_listeningDescriptor(listeningDescriptor),
      m_settings(settings),
      m_status(status),
      m_admission(admission),
      m_catalogue(catalogue),
      m_installRoutes(std::move(installRoutes)),
      m_witnessCountChanged(std::move(witnessCountChanged)),
      m_sweepTimer(this)
{
}

WitnessHub::~WitnessHub()
{
    // The descriptor is closed by QTcpServer once it took it over.
    if (!m_tcpServer && m_listeningDescriptor >= 0)
        ::close(m_listeningDescriptor);
}

bool WitnessHub::start(QString *error)
{
    m_tcpServer = new AdmittingTcpServer(m_admission, m_status,
                                         [this](QTcpSocket *socket, const std::function<void()> &release) {
                                             trackHandshake(socket, release);
                                         },
                                         this);
    if (!m_tcpServer->setSocketDescriptor(m_listeningDescriptor)) {
        *error = QStringLiteral("socket thread %1 cannot use its listening socket: %2")
                         .arg(m_index)
                         .arg(m_tcpServer->errorString());
        return false;
    }

    // Qt retries a failing accept() in a tight loop when the process runs out
    // of descriptors; pausing and retrying later keeps the thread calm.
    connect(m_tcpServer, &QTcpServer::acceptError, this, [this](QAbstractSocket::SocketError socketError) {
        qCWarning(lcSocket, "Socket thread %d failed to accept a connection (socket error %d); "
                            "accepting pauses for one second. Raise the open-file limit if this repeats.",
                  m_index, int(socketError));
        m_tcpServer->pauseAccepting();
        bump(m_status->metrics.acceptPauses);
        QTimer::singleShot(1000, this, [this] {
            if (!m_closing)
                m_tcpServer->resumeAccepting();
        });
    });

    m_httpServer = new HttpEndpoint(this);
    m_httpServer->setOriginPolicy(m_settings.originPolicy, &m_status->metrics.originRejections);
    if (m_installRoutes)
        m_installRoutes(*m_httpServer);
    m_httpServer->bind(m_tcpServer);
    connect(m_httpServer, &QAbstractHttpServer::newWebSocketConnection, this, &WitnessHub::adoptPendingSockets);

    // Sweep often enough that a silent socket closes within a quarter of the
    // idle timeout after it expires, but at most every 5 s.
    m_sweepTimer.setInterval(
            qBound(100, qMin(m_settings.idleTimeoutMs, m_settings.handshakeTimeoutMs) / 4, 5000));
    connect(&m_sweepTimer, &QTimer::timeout, this, &WitnessHub::sweepIdleSockets);
    m_sweepTimer.start();
    return true;
}

void WitnessHub::adoptPendingSockets()
{
    while (m_httpServer->hasPendingWebSocketConnections()) {
        std::unique_ptr<QWebSocket> socket = m_httpServer->nextPendingWebSocketConnection();
        if (socket)
            adopt(socket.release());
    }
}

void WitnessHub::adopt(QWebSocket *socket)
{
    const Handshake handshake = m_handshakes.take({m_admission->keyOf(socket->peerAddress()), socket->peerPort()});
    socket->setParent(this);
    // The frame codec enforces the size limit, so an oversized frame gets the
    // same quiet close as any other bad frame. Qt's own limit is a backstop
    // above it: Qt closes at once, which can cost the client the close code.
    const quint64 backstopBytes = quint64(m_settings.maxFrameBytes) * 4;
    socket->setMaxAllowedIncomingFrameSize(backstopBytes);
    socket->setMaxAllowedIncomingMessageSize(backstopBytes);

    Session &session = m_sessions[socket];
    session.lastFrameAtMs = m_status->clock()->nowMs();
    session.releaseAdmission = handshake.releaseAdmission;
    // QHttpServer upgrades the very QTcpSocket that was accepted, so the
    // tracked handshake socket is the QWebSocket's transport.
    session.transport = handshake.socket ? handshake.socket.data() : socket->findChild<QTcpSocket *>();
    bump(m_status->openSockets);
    bump(m_status->metrics.connectionsAccepted);

    connect(socket, &QWebSocket::textMessageReceived, this,
            [this, socket](const QString &text) { handleText(socket, text); });
    connect(socket, &QWebSocket::binaryMessageReceived, this, [this, socket] { handleBinary(socket); });
    connect(socket, &QWebSocket::disconnected, this, [this, socket] { handleDisconnect(socket); });

    if (!session.transport) {
        // Without it the witness would miss every broadcast; it reconnects instead.
        qCWarning(lcSocket, "Socket thread %d could not find the TCP connection of an upgraded socket; closing it "
                            "with 1001 so the client reconnects. Report this as a bug.",
                  m_index);
        session.closedByServer = true;
        socket->close(toQt(CloseCode::GoingAway), QStringLiteral("try again"));
    }
    if (session.closedByServer)
        return;

    // Only the V2 serializer is spoken; a V1 client would misread every frame.
    const QUrl url = socket->requestUrl();
    const QString version = QUrlQuery(url).queryItemValue(QStringLiteral("vsn"));
    if (url.path() != QLatin1String(HttpEndpoint::webSocketPath) || version != QLatin1String("2.0.0")) {
        reject(socket, session, NodeMetrics::BadVersion, CloseCode::PolicyViolation,
               QStringLiteral("the endpoint is /socket/websocket?vsn=2.0.0"));
        return;
    }

    qCDebug(lcSocket, "Socket thread %d opened a socket; %d open here.", m_index, socketCount());
    updateAccepting();
}

void WitnessHub::handleText(QWebSocket *socket, const QString &text)
{
    auto it = m_sessions.find(socket);
    if (it == m_sessions.end())
        return;
    if (it->closedByServer) {
        extendQuietClose(*it);
        return;
    }
    Session &session = *it;
    session.lastFrameAtMs = m_status->clock()->nowMs();

    const protocol::DecodeResult decoded = protocol::decodeFrame(text.toUtf8(), m_settings.maxFrameBytes);
    if (!decoded.isValid()) {
        reject(socket, session, rejectReasonFor(decoded.error), protocol::closeCodeFor(decoded.error),
               decoded.detail);
        return;
    }
    dispatch(socket, session, *decoded.frame);
}

void WitnessHub::handleBinary(QWebSocket *socket)
{
    auto it = m_sessions.find(socket);
    if (it == m_sessions.end())
        return;
    if (it->closedByServer) {
        extendQuietClose(*it);
        return;
    }
    reject(socket, *it, NodeMetrics::BinaryFrame, CloseCode::UnsupportedData,
           QStringLiteral("binary frames are not part of the protocol"));
}

void WitnessHub::dispatch(QWebSocket *socket, Session &session, const Frame &frame)
{
    const bool lobby = frame.topic == QLatin1String(protocol::lobbyTopic);

    if (frame.topic == QLatin1String(protocol::phoenixTopic)) {
        if (frame.event == heartbeatEvent) {
            bump(m_status->metrics.heartbeats);
            send(socket, protocol::replyFrame(frame, true));
        } else {
            bump(m_status->metrics.errorReplies);
            send(socket, protocol::errorReplyFrame(frame, QStringLiteral("unknown event")));
        }
        return;
    }

    if (lobby && frame.event == joinEvent) {
        join(socket, session, frame);
        return;
    }
    if (lobby && session.joinRef && frame.event == leaveEvent) {
        leave(socket, session, frame);
        return;
    }

    // Silence is the protocol: a joined witness has nothing else to say, and
    // a socket cannot speak on a topic it has not joined.
    bump(m_status->metrics.errorReplies);
    const bool joinedLobby = lobby && session.joinRef;
    send(socket, protocol::errorReplyFrame(frame, joinedLobby ? QStringLiteral("unknown event")
                                                              : QStringLiteral("unmatched topic")));
}

void WitnessHub::join(QWebSocket *socket, Session &session, const Frame &frame)
{
    // A second join on the same socket replaces the first, as Phoenix does,
    // and the witness is still counted once.
    const bool newWitness = !session.joinRef.has_value();
    session.joinRef = frame.joinRef ? frame.joinRef : frame.ref;

    // Counting and reading the board happen in one step, so every later
    // broadcast either counts this witness or is older than its welcome.
    const PublishedView view = newWitness ? m_status->countJoin() : m_status->view();
    session.welcomeVersion = view.version;
    if (newWitness) {
        bump(m_status->metrics.joins);
        m_witnessCountChanged();
    }

    send(socket, protocol::replyFrame(frame, true));

    protocol::Welcome welcome;
    const GlobalState &global = view.global;
    welcome.snapshot.concurrentConnections = global.concurrentConnections;
    welcome.snapshot.peakConnections = global.peakConnections;
    welcome.snapshot.totalConnectionSeconds = global.totalConnectionSeconds;
    welcome.snapshot.unlockedMilestones = global.unlockedMilestones;
    welcome.milestones = m_catalogue.milestones();
    welcome.tickIntervalMs = m_settings.tickIntervalMs;
    welcome.serverTime = QDateTime::currentDateTimeUtc();

    Frame push;
    push.joinRef = session.joinRef;
    push.topic = frame.topic;
    push.event = QString::fromLatin1(protocol::events::welcome);
    push.payload = protocol::encodeWelcome(welcome);
    send(socket, push);
}

void WitnessHub::leave(QWebSocket *socket, Session &session, const Frame &frame)
{
    // The witness stops counting before the reply goes out, so anything the
    // client asks after the reply already sees it gone.
    const std::optional<QString> joinRef = session.joinRef;
    session.joinRef.reset();
    m_status->localWitnesses.fetch_sub(1, std::memory_order_relaxed);
    bump(m_status->metrics.leaves);
    m_witnessCountChanged();

    send(socket, protocol::replyFrame(frame, true));

    Frame closing;
    closing.joinRef = joinRef;
    closing.ref = joinRef;
    closing.topic = frame.topic;
    closing.event = closeEvent;
    send(socket, closing);
}

void WitnessHub::send(QWebSocket *socket, const Frame &frame)
{
    // Written to the kernel now, so what stays in bytesToWrite() is backlog
    // the peer did not read, not a reply waiting for the next loop pass.
    socket->sendTextMessage(QString::fromUtf8(protocol::encodeFrame(frame)));
    socket->flush();
}

void WitnessHub::reject(QWebSocket *socket, Session &session, NodeMetrics::RejectReason reason, CloseCode code,
                        const QString &detail)
{
    bump(m_status->metrics.rejectedFrames[reason]);
    qCDebug(lcSocket, "Socket thread %d closes a socket with code %d: %s.", m_index, int(code),
            qPrintable(detail));
    session.closedByServer = true;

    // Qt closes the TCP connection right after writing the close frame. If
    // part of the client's burst is still unread in the kernel then, Linux
    // answers with a reset and the client loses the close frame and its code
    // (it sees 1006). So the close waits until the client has been quiet for
    // a moment, at most one second; frames that arrive meanwhile are ignored.
    session.closeTimer = new QTimer(socket);
    session.closeTimer->setSingleShot(true);
    session.closeTimer->setInterval(closeQuietMs);
    session.closeDeadlineMs = m_status->clock()->nowMs() + closeDeadlineMs;
    connect(session.closeTimer, &QTimer::timeout, socket,
            [socket, code, detail] { socket->close(toQt(code), detail); });
    session.closeTimer->start();
}

void WitnessHub::extendQuietClose(Session &session)
{
    if (session.closeTimer && m_status->clock()->nowMs() < session.closeDeadlineMs)
        session.closeTimer->start();
}

void WitnessHub::handleDisconnect(QWebSocket *socket)
{
    auto it = m_sessions.find(socket);
    if (it == m_sessions.end())
        return;

    // QWebSocket enforces the frame size limit and UTF-8 validity itself and
    // closes with 1009 or 1007; count those as rejected frames too. A client
    // that closes with one of those codes itself is counted the same way.
    if (!it->closedByServer) {
        if (socket->closeCode() == QWebSocketProtocol::CloseCodeTooMuchData)
            bump(m_status->metrics.rejectedFrames[NodeMetrics::TooLarge]);
        else if (socket->closeCode() == QWebSocketProtocol::CloseCodeWrongDatatype)
            bump(m_status->metrics.rejectedFrames[NodeMetrics::NotJson]);
    }

    qCDebug(lcSocket, "Socket thread %d: a socket closed (code %d, %s).", m_index, int(socket->closeCode()),
            it->closedByServer ? "by the server" : "by the client or the network");
    if (it->joinRef) {
        m_status->localWitnesses.fetch_sub(1, std::memory_order_relaxed);
        bump(m_status->metrics.leaves);
        m_witnessCountChanged();
    }
    if (it->releaseAdmission)
        it->releaseAdmission();
    m_sessions.erase(it);
    m_status->openSockets.fetch_sub(1, std::memory_order_relaxed);
    socket->deleteLater();
    updateAccepting();
}

void WitnessHub::broadcast(const QByteArray &wireFrame, quint64 version)
{
    QElapsedTimer timer;
    timer.start();
    qint64 frames = 0;
    for (auto it = m_sessions.begin(); it != m_sessions.end(); ++it) {
        if (!it->joinRef || it->closedByServer || it->welcomeVersion >= version)
            continue;
        QWebSocket *socket = it.key();

        // A witness that stopped reading would make the server hold every
        // broadcast for it; past the limit it is closed instead. Every frame
        // is flushed to the kernel when sent, so bytesToWrite() is what the
        // kernel would not take. The close frame queues behind the backlog,
        // so the socket is cut after 1 s.
        if (socket->bytesToWrite() > m_settings.maxBacklogBytes) {
            it->closedByServer = true;
            bump(m_status->metrics.backlogClosures);
            socket->close(toQt(CloseCode::PolicyViolation), QStringLiteral("send backlog over limit"));
            QTimer::singleShot(1000, socket, [socket] { socket->abort(); });
            continue;
        }
        // Whole frames go into the TCP connection in one write each, so these
        // bytes never interleave with a frame QWebSocket writes itself.
        if (!it->transport || socket->state() != QAbstractSocket::ConnectedState)
            continue;
        it->transport->write(wireFrame);
        it->transport->flush();
        ++frames;
    }
    m_status->metrics.recordFanout(timer.nsecsElapsed() / 1000, frames);
}

void WitnessHub::trackHandshake(QTcpSocket *socket, const std::function<void()> &releaseAdmission)
{
    const auto key = qMakePair(m_admission->keyOf(socket->peerAddress()), socket->peerPort());
    m_handshakes.insert(key, Handshake{socket, m_status->clock()->nowMs(), releaseAdmission});
}

void WitnessHub::closeHandshakesPastTimeout(qint64 now)
{
    // Plain HTTP connections end here too once they pass the timeout, which
    // also bounds how long an idle keep-alive connection holds a descriptor.
    for (auto it = m_handshakes.begin(); it != m_handshakes.end();) {
        if (!it->socket) {
            it = m_handshakes.erase(it);
            continue;
        }
        if (now - it->acceptedAtMs < m_settings.handshakeTimeoutMs) {
            ++it;
            continue;
        }
        if (it->socket->state() == QAbstractSocket::ConnectedState)
            bump(m_status->metrics.handshakeTimeouts);
        it->socket->abort();
        it = m_handshakes.erase(it);
    }
}

void WitnessHub::sweepIdleSockets()
{
    const qint64 now = m_status->clock()->nowMs();
    closeHandshakesPastTimeout(now);
    for (auto it = m_sessions.begin(); it != m_sessions.end(); ++it) {
        if (it->closedByServer || now - it->lastFrameAtMs <= m_settings.idleTimeoutMs)
            continue;
        it->closedByServer = true;
        bump(m_status->metrics.idleClosures);
        it.key()->close(toQt(CloseCode::Normal), QStringLiteral("idle timeout"));
    }
    updateAccepting();
}

void WitnessHub::updateAccepting()
{
    if (m_closing || !m_tcpServer)
        return;

    // Pause at the limit and resume a little below it, so accepting does not
    // flap at the boundary.
    const qint64 open = m_status->openSockets.load(std::memory_order_relaxed);
    const qint64 resumeBelow = m_settings.maxConnections - qMax<qint64>(1, m_settings.maxConnections / 20);
    if (!m_acceptingPaused && open >= m_settings.maxConnections) {
        m_acceptingPaused = true;
        m_tcpServer->pauseAccepting();
        bump(m_status->metrics.acceptPauses);
        qCWarning(lcSocket, "Socket thread %d paused accepting: %lld sockets open, the limit is %lld. "
                            "Raise COLLECTIVE_MAX_CONNECTIONS and the open-file limit to admit more.",
                  m_index, open, m_settings.maxConnections);
    } else if (m_acceptingPaused && open < resumeBelow) {
        m_acceptingPaused = false;
        m_tcpServer->resumeAccepting();
        qCInfo(lcSocket, "Socket thread %d accepts connections again: %lld sockets open.", m_index, open);
    }
}

void WitnessHub::closeAll(CloseCode code, const QString &reason, int windowMs)
{
    m_closing = true;
    if (m_tcpServer)
        m_tcpServer->close(); // stop accepting; the other threads' listeners keep the port until they close
    m_sweepTimer.stop();

    // Each socket closes at its own random moment within the window, so the
    // witnesses' reconnects reach the next server spread out, not at once.
    // Sockets that are not witnesses close at once.
    QRandomGenerator *random = QRandomGenerator::global();
    for (auto it = m_sessions.begin(); it != m_sessions.end(); ++it) {
        if (it->closedByServer)
            continue;
        it->closedByServer = true;
        QWebSocket *socket = it.key();
        const int delayMs = it->joinRef && windowMs > 0 ? int(random->bounded(windowMs + 1)) : 0;
        QTimer::singleShot(delayMs, socket, [socket, code, reason] { socket->close(toQt(code), reason); });
    }
}

} // namespace collective
