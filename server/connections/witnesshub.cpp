// One socket thread's listener, WebSockets and HTTP server (see witnesshub.h).
#include "connections/witnesshub.h"

#include "connections/admittingserver.h"
#include "protocol/messages.h"
#include "websocket/frames.h"

#include <QDateTime>
#include <QElapsedTimer>
#include <QRandomGenerator>
#include <QSocketNotifier>
#include <QTcpSocket>

#include <cerrno>
#include <utility>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
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

// A request head larger than this gets a 431 response.
constexpr qsizetype maxHeadBytes = 8192;
// One read takes at most this much; more stays in the kernel for the next pass.
constexpr size_t readBufferBytes = 65536;
// Ready descriptors taken from epoll per call, and calls per wakeup, so one
// busy pass cannot starve the thread's timers and queued broadcasts.
constexpr int eventsPerWait = 256;
constexpr int waitsPerWakeup = 16;
// How long a closing socket waits for its peer's close frame or FIN.
constexpr qint64 closeDeadlineMs = 1000;

// A Phoenix frame as one WebSocket text frame.
QByteArray wireBytes(const Frame &frame)
{
    return websocket::textFrame(protocol::encodeFrame(frame));
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

NodeMetrics::RejectReason rejectReasonFor(quint16 webSocketCloseCode)
{
    switch (webSocketCloseCode) {
    case quint16(CloseCode::MessageTooBig):
        return NodeMetrics::TooLarge;
    case quint16(CloseCode::InvalidPayload):
        return NodeMetrics::NotJson;
    default:
        return NodeMetrics::ProtocolError;
    }
}

void bump(std::atomic<qint64> &counter, qint64 by = 1)
{
    counter.fetch_add(by, std::memory_order_relaxed);
}

bool wouldBlock()
{
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

} // namespace

// The hub's state for one connection. The reader and the backlog stay empty
// while the witness is idle and the kernel takes every write.
struct WitnessHub::Connection
{
    Connection(int descriptor, quint64 admissionKey, int maxMessageBytes, qint64 nowMs)
        : descriptor(descriptor), admissionKey(admissionKey), lastActivityMs(nowMs), reader(maxMessageBytes)
    {
    }

    int descriptor;
    quint32 slot = 0; // index in m_connections
    Phase phase = Phase::Handshake;
    bool countedOpen = false;        // counted in NodeStatus::openSockets
    std::optional<QString> joinRef;  // set while joined to the lobby
    quint64 welcomeVersion = 0;      // the board version its welcome showed
    quint64 admissionKey;
    qint64 lastActivityMs;           // accepted, or its last frame
    qint64 deadlineMs = 0;           // Closing: cut then
    qint64 shutdownCloseAtMs = -1;   // during shutdown: its close frame goes out then
    websocket::FrameReader reader;
    QByteArray backlog;              // what the kernel did not take yet
};

WitnessHub::WitnessHub(int index, int listeningDescriptor, const HubSettings &settings, NodeStatus *status,
                       Admission *admission, const protocol::Catalogue &catalogue, RouteInstaller installRoutes,
                       std::function<void()> witnessCountChanged)
    : m_index(index),
      m_listeningDescriptor(listeningDescriptor),
      m_settings(settings),
      m_status(status),
      m_admission(admission),
      m_installRoutes(std::move(installRoutes)),
      m_witnessCountChanged(std::move(witnessCountChanged)),
      m_encodedCatalogue(protocol::encodeCatalogue(catalogue.milestones())),
      m_sweepTimer(this),
      m_deadlineTimer(this),
      m_readBuffer(new char[readBufferBytes])
{
}

WitnessHub::~WitnessHub()
{
    for (Connection *connection : m_connections) {
        if (connection->phase != Phase::Gone) {
            ::close(connection->descriptor);
            releaseAdmitted(m_admission, m_status, connection->admissionKey);
            if (connection->countedOpen)
                m_status->openSockets.fetch_sub(1, std::memory_order_relaxed);
        }
        delete connection;
    }
    if (m_epoll >= 0)
        ::close(m_epoll);
    // The descriptor is closed by QTcpServer once it took it over.
    if (!m_tcpServer && m_listeningDescriptor >= 0)
        ::close(m_listeningDescriptor);
}

bool WitnessHub::start(QString *error)
{
    m_epoll = ::epoll_create1(EPOLL_CLOEXEC);
    if (m_epoll < 0) {
        *error = QStringLiteral("socket thread %1 cannot create its epoll set: %2")
                         .arg(m_index)
                         .arg(QString::fromLocal8Bit(strerror(errno)));
        return false;
    }
    m_epollNotifier = new QSocketNotifier(m_epoll, QSocketNotifier::Read, this);
    connect(m_epollNotifier, &QSocketNotifier::activated, this, &WitnessHub::pollReady);

    m_tcpServer = new AdmittingTcpServer(m_admission, m_status, m_settings.maxHeldConnections,
                                         [this](int descriptor, quint64 key) { accept(descriptor, key); }, this);
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
    if (m_installRoutes)
        m_installRoutes(*m_httpServer);
    m_httpServer->bind(m_tcpServer);

    // Sweep often enough that a silent socket closes within a quarter of the
    // idle timeout after it expires, but at most every 5 s.
    m_sweepTimer.setInterval(
            qBound(100, qMin(m_settings.idleTimeoutMs, m_settings.handshakeTimeoutMs) / 4, 5000));
    connect(&m_sweepTimer, &QTimer::timeout, this, &WitnessHub::sweep);
    m_sweepTimer.start();

    m_deadlineTimer.setInterval(50);
    connect(&m_deadlineTimer, &QTimer::timeout, this, &WitnessHub::enforceDeadlines);
    return true;
}

// --- Accepting and the opening handshake ---------------------------------

void WitnessHub::accept(int descriptor, quint64 admissionKey)
{
    auto *connection = new Connection(descriptor, admissionKey, m_settings.maxFrameBytes, m_status->clock()->nowMs());

    // QTcpServer accepts descriptors in blocking mode (Qt sets O_NONBLOCK
    // only when it wraps one in a socket), so every recv() and send() here
    // passes MSG_DONTWAIT.
    //
    // Edge-triggered while the request is only peeked at: the bytes stay in
    // the kernel, and each new segment wakes the hub once.
    epoll_event event{};
    event.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
    event.data.ptr = connection;
    if (::epoll_ctl(m_epoll, EPOLL_CTL_ADD, descriptor, &event) != 0) {
        qCWarning(lcSocket, "Socket thread %d cannot watch a new connection (%s); closing it.", m_index,
                  strerror(errno));
        ::close(descriptor);
        releaseAdmitted(m_admission, m_status, admissionKey);
        delete connection;
        return;
    }
    connection->slot = quint32(m_connections.size());
    m_connections.push_back(connection);
    updateAccepting();
}

void WitnessHub::readHandshake(Connection *connection, bool peerClosed)
{
    char *buffer = m_readBuffer.get();
    const ssize_t peeked = ::recv(connection->descriptor, buffer, maxHeadBytes, MSG_PEEK | MSG_DONTWAIT);
    if (peeked == 0 || (peeked < 0 && !wouldBlock())) {
        drop(connection); // closed or failed before a whole request
        return;
    }
    if (peeked < 0)
        return;

    websocket::RequestHead head;
    switch (websocket::parseRequestHead(QByteArrayView(buffer, peeked), maxHeadBytes, &head)) {
    case websocket::HeadStatus::Incomplete:
        if (peerClosed)
            drop(connection);
        return;
    case websocket::HeadStatus::TooLarge:
        rejectRequest(connection, 431, "The request head is over 8 KiB.\n");
        return;
    case websocket::HeadStatus::Malformed:
        handOverToHttp(connection); // Qt HttpServer responds to it like to any bad request
        return;
    case websocket::HeadStatus::Complete:
        break;
    }

    if (!websocket::isUpgradeRequest(head)) {
        handOverToHttp(connection);
        return;
    }

    // The head was peeked at; take it off the connection now. Frames a
    // client sent right behind it stay queued for the WebSocket.
    if (::recv(connection->descriptor, buffer, size_t(head.size), MSG_DONTWAIT) != head.size) {
        drop(connection);
        return;
    }
    upgrade(connection, head);
}

void WitnessHub::upgrade(Connection *connection, const websocket::RequestHead &head)
{
    if (head.path() != HttpEndpoint::webSocketPath) {
        rejectRequest(connection, 404, "Not found.\n");
        return;
    }
    if (!m_settings.originPolicy.allows(head.value("origin"))) {
        bump(m_status->metrics.originRejections);
        qCDebug(lcSocket, "Socket thread %d rejected a WebSocket upgrade from an origin outside PHX_HOST.", m_index);
        rejectRequest(connection, 403,
                      "Forbidden: this origin may not connect; the server's PHX_HOST lists the allowed ones.\n");
        return;
    }
    const websocket::UpgradeCheck check = websocket::checkUpgradeRequest(head);
    if (check.status != 0) {
        rejectRequest(connection, check.status, QByteArray(check.detail) + ".\n",
                      check.status == 426 ? "Sec-WebSocket-Version: 13\r\n" : "");
        return;
    }

    // The WebSocket limit is checked where a connection becomes a WebSocket,
    // so handshakes in flight cannot carry the node past it. A full node goes
    // on accepting, so its health checks and metrics still respond.
    if (m_status->openSockets.fetch_add(1, std::memory_order_relaxed) >= m_settings.maxConnections) {
        m_status->openSockets.fetch_sub(1, std::memory_order_relaxed);
        bump(m_status->metrics.refusedAtCapacity);
        noteCapacity(true);
        rejectRequest(connection, 503, "This server is at its connection limit; retry in a few seconds.\n",
                      "Retry-After: 5\r\n");
        return;
    }
    connection->countedOpen = true;

    // Every write is a whole frame or several, so nothing gains from waiting
    // for more bytes: without this, Nagle's algorithm delays a tick until the
    // witness has acknowledged the last heartbeat reply.
    const int noDelay = 1;
    ::setsockopt(connection->descriptor, IPPROTO_TCP, TCP_NODELAY, &noDelay, sizeof noDelay);

    writeBytes(connection, websocket::switchingProtocolsResponse(head));
    if (connection->phase == Phase::Gone)
        return;
    connection->phase = Phase::Open;
    connection->lastActivityMs = m_status->clock()->nowMs();
    bump(m_status->metrics.connectionsAccepted);
    watch(connection, !connection->backlog.isEmpty());

    // Only the V2 serializer is spoken; a V1 client would misread every frame.
    if (head.queryValue("vsn") != "2.0.0") {
        reject(connection, NodeMetrics::BadVersion, CloseCode::PolicyViolation,
               "the endpoint is /socket/websocket?vsn=2.0.0");
    } else {
        qCDebug(lcSocket, "Socket thread %d opened a WebSocket.", m_index);
    }
}

void WitnessHub::rejectRequest(Connection *connection, int status, QByteArrayView body, QByteArrayView extraHeaders)
{
    // Level-triggered from here on, like an open WebSocket.
    watch(connection, false);
    sendLastBytes(connection, websocket::plainResponse(status, body, extraHeaders));
}

void WitnessHub::handOverToHttp(Connection *connection)
{
    // The connection leaves the epoll set with its request still unread, so
    // the QTcpSocket reads it as if it had just arrived.
    const int descriptor = connection->descriptor;
    const qint64 acceptedAtMs = connection->lastActivityMs;
    ::epoll_ctl(m_epoll, EPOLL_CTL_DEL, descriptor, nullptr);
    connection->phase = Phase::Gone;
    m_dropped.push_back(connection);

    QTcpSocket *socket = m_tcpServer->handOver(descriptor, connection->admissionKey);
    if (socket)
        m_httpConnections.push_back(HttpConnection{socket, acceptedAtMs});
}

// --- Reading and writing -------------------------------------------------

void WitnessHub::pollReady()
{
    epoll_event events[eventsPerWait];
    for (int wait = 0; wait < waitsPerWakeup; ++wait) {
        const int count = ::epoll_wait(m_epoll, events, eventsPerWait, 0);
        for (int i = 0; i < count; ++i) {
            auto *connection = static_cast<Connection *>(events[i].data.ptr);
            const quint32 flags = events[i].events;
            if (connection->phase != Phase::Gone && (flags & EPOLLOUT))
                flushBacklog(connection);
            if (connection->phase == Phase::Gone || !(flags & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
                continue;
            if (connection->phase == Phase::Handshake)
                readHandshake(connection, flags & (EPOLLRDHUP | EPOLLHUP | EPOLLERR));
            else
                readFrames(connection);
        }
        if (count < eventsPerWait)
            break;
    }
    freeDropped();
}

void WitnessHub::readFrames(Connection *connection)
{
    char *buffer = m_readBuffer.get();
    const ssize_t received = ::recv(connection->descriptor, buffer, readBufferBytes, MSG_DONTWAIT);
    if (received == 0 || (received < 0 && !wouldBlock())) {
        drop(connection); // the peer closed or reset the connection
        return;
    }
    if (received < 0)
        return;

    // After our close frame or rejection, nothing the peer sends matters. It
    // is read only so that the kernel has nothing unread when we close.
    if (connection->phase != Phase::Open)
        return;

    const std::optional<websocket::ReadError> error = connection->reader.read(
            QByteArrayView(buffer, received), [this, connection](websocket::Message &&message) {
                return handleMessage(connection, std::move(message));
            });
    if (error && connection->phase == Phase::Open)
        reject(connection, rejectReasonFor(error->closeCode), CloseCode(error->closeCode), error->detail);
}

bool WitnessHub::handleMessage(Connection *connection, websocket::Message &&message)
{
    using websocket::Message;
    connection->lastActivityMs = m_status->clock()->nowMs();

    switch (message.kind) {
    case Message::Text:
        handleText(connection, message.payload);
        break;
    case Message::Binary:
        reject(connection, NodeMetrics::BinaryFrame, CloseCode::UnsupportedData,
               "binary frames are not part of the protocol");
        break;
    case Message::Ping:
        writeBytes(connection, websocket::pongFrame(message.payload));
        break;
    case Message::Pong:
        break;
    case Message::Close:
        // A client that closes with 1009 or 1007 reports data it could not
        // take; those count with the frames the server rejected.
        if (message.closeCode == quint16(CloseCode::MessageTooBig))
            bump(m_status->metrics.rejectedFrames[NodeMetrics::TooLarge]);
        else if (message.closeCode == quint16(CloseCode::InvalidPayload))
            bump(m_status->metrics.rejectedFrames[NodeMetrics::NotJson]);
        qCDebug(lcSocket, "Socket thread %d: a client closed its WebSocket (code %d).", m_index,
                int(message.closeCode));

        // The reply echoes the code. The server then ends the TCP connection
        // first, as RFC 6455 section 7.1.1 recommends.
        writeBytes(connection, websocket::closeFrame(message.closeCode == 1005 ? 1000 : message.closeCode, {}));
        drop(connection);
        break;
    }
    return connection->phase == Phase::Open;
}

void WitnessHub::writeBytes(Connection *connection, QByteArrayView bytes)
{
    if (connection->phase == Phase::Gone)
        return;
    if (!connection->backlog.isEmpty()) {
        connection->backlog.append(bytes.data(), bytes.size());
        closeIfBacklogOverLimit(connection);
        return;
    }

    ssize_t sent = ::send(connection->descriptor, bytes.data(), size_t(bytes.size()), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent == bytes.size())
        return;
    if (sent < 0) {
        if (!wouldBlock()) {
            drop(connection);
            return;
        }
        sent = 0;
    }

    // The peer is not reading fast enough: keep the rest and write it when
    // the kernel has room again.
    connection->backlog.append(bytes.data() + sent, bytes.size() - sent);
    watch(connection, true);
    closeIfBacklogOverLimit(connection);
}

void WitnessHub::closeIfBacklogOverLimit(Connection *connection)
{
    // A witness that stopped reading would make the server hold every
    // broadcast and reply for it; past the limit it is closed instead. The
    // close frame queues behind the backlog, so the deadline cuts it.
    if (connection->phase != Phase::Open || connection->backlog.size() <= m_settings.maxBacklogBytes)
        return;
    bump(m_status->metrics.backlogClosures);
    closeWebSocket(connection, quint16(CloseCode::PolicyViolation), "send backlog over limit");
}

void WitnessHub::flushBacklog(Connection *connection)
{
    const QByteArray &backlog = connection->backlog;
    const ssize_t sent = ::send(connection->descriptor, backlog.constData(), size_t(backlog.size()),
                                MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent < 0) {
        if (!wouldBlock())
            drop(connection);
        return;
    }
    connection->backlog.remove(0, sent);
    if (connection->backlog.isEmpty()) {
        connection->backlog = QByteArray(); // give the memory back
        watch(connection, false);
        if (connection->phase == Phase::Closing)
            ::shutdown(connection->descriptor, SHUT_WR); // the last frame or response is out
    }
}

void WitnessHub::watch(Connection *connection, bool writable)
{
    // Level-triggered once the handshake is read: unread bytes report again,
    // so one pass may read a busy socket only partly.
    epoll_event event{};
    event.events = EPOLLIN | EPOLLRDHUP | (writable ? EPOLLOUT : 0u);
    event.data.ptr = connection;
    ::epoll_ctl(m_epoll, EPOLL_CTL_MOD, connection->descriptor, &event);
}

bool WitnessHub::queueBroadcasts(const QList<WireFrame> &frames)
{
    QMutexLocker locker(&m_queueMutex);
    const bool wake = m_queued.isEmpty();
    m_queued.append(frames);
    m_queuedAny.store(true, std::memory_order_release);
    return wake;
}

QList<WireFrame> WitnessHub::takeQueued()
{
    QMutexLocker locker(&m_queueMutex);
    m_queuedAny.store(false, std::memory_order_relaxed);
    return std::exchange(m_queued, {});
}

void WitnessHub::sendQueued()
{
    // Connections between looks at the queue: a milestone announced just
    // after its tick still joins it for nearly every witness.
    constexpr std::size_t queueCheckInterval = 64;

    QElapsedTimer timer;
    timer.start();

    // A wakeup whose frames an earlier pass took along finds nothing.
    FanoutPass pass(takeQueued(), m_connections.size());
    if (pass.isEmpty())
        return;

    // Frames join the first pass only, so one call makes at most two passes
    // and reads are served between calls. Nothing is freed until the end.
    qint64 frames = 0;
    bool first = true;
    while (!pass.isEmpty()) {
        for (std::size_t index = 0; index < pass.end(); ++index) {
            if (first && index % queueCheckInterval == 0 && m_queuedAny.load(std::memory_order_acquire))
                pass.join(takeQueued(), index, m_connections.size());

            Connection *connection = m_connections[index];
            if (connection->phase != Phase::Open || !connection->joinRef)
                continue;
            qsizetype count = 0;
            const QByteArrayView bytes = pass.bytesFor(index, connection->welcomeVersion, &count);
            if (count > 0) {
                writeBytes(connection, bytes);
                frames += count;
            }
        }
        pass = pass.next();
        first = false;
    }
    m_status->metrics.recordFanout(timer.nsecsElapsed() / 1000, frames);
    freeDropped();
}

// --- The Phoenix protocol ------------------------------------------------

void WitnessHub::handleText(Connection *connection, const QByteArray &text)
{
    const protocol::DecodeResult decoded = protocol::decodeFrame(text, m_settings.maxFrameBytes);
    if (!decoded.isValid()) {
        reject(connection, rejectReasonFor(decoded.error), protocol::closeCodeFor(decoded.error),
               decoded.detail.toUtf8());
        return;
    }
    dispatch(connection, *decoded.frame);
}

void WitnessHub::dispatch(Connection *connection, const Frame &frame)
{
    const bool lobby = frame.topic == QLatin1String(protocol::lobbyTopic);

    if (frame.topic == QLatin1String(protocol::phoenixTopic)) {
        if (frame.event == heartbeatEvent) {
            bump(m_status->metrics.heartbeats);
            send(connection, protocol::replyFrame(frame, true));
        } else {
            bump(m_status->metrics.errorReplies);
            send(connection, protocol::errorReplyFrame(frame, QStringLiteral("unknown event")));
        }
        return;
    }

    if (lobby && frame.event == joinEvent) {
        join(connection, frame);
        return;
    }
    if (lobby && connection->joinRef && frame.event == leaveEvent) {
        leave(connection, frame);
        return;
    }

    // Silence is the protocol: a joined witness has nothing else to say, and
    // a socket cannot speak on a topic it has not joined.
    bump(m_status->metrics.errorReplies);
    const bool joinedLobby = lobby && connection->joinRef;
    send(connection, protocol::errorReplyFrame(frame, joinedLobby ? QStringLiteral("unknown event")
                                                                  : QStringLiteral("unmatched topic")));
}

void WitnessHub::join(Connection *connection, const Frame &frame)
{
    // A second join on the same socket replaces the first, as Phoenix does,
    // and the witness is still counted once.
    const bool newWitness = !connection->joinRef.has_value();
    connection->joinRef = frame.joinRef ? frame.joinRef : frame.ref;

    // Counting and reading the board happen in one step, so every later
    // broadcast either counts this witness or is older than its welcome.
    const PublishedView view = newWitness ? m_status->countJoin() : m_status->view();
    connection->welcomeVersion = view.version;
    if (newWitness) {
        bump(m_status->metrics.joins);
        m_witnessCountChanged();
    }

    protocol::Welcome welcome;
    const GlobalState &global = view.global;
    welcome.snapshot.concurrentConnections = global.concurrentConnections;
    welcome.snapshot.peakConnections = global.peakConnections;
    welcome.snapshot.totalConnectionSeconds = global.totalConnectionSeconds;
    welcome.snapshot.unlockedMilestones = global.unlockedMilestones;
    welcome.tickIntervalMs = m_settings.tickIntervalMs;
    welcome.serverTime = QDateTime::currentDateTimeUtc();

    Frame push;
    push.joinRef = connection->joinRef;
    push.topic = frame.topic;
    push.event = QString::fromLatin1(protocol::events::welcome);

    // The reply and the welcome leave in one write.
    QByteArray bytes = wireBytes(protocol::replyFrame(frame, true));
    bytes += websocket::textFrame(protocol::encodeWelcomeFrame(push, welcome, m_encodedCatalogue));
    writeBytes(connection, bytes);
}

void WitnessHub::leave(Connection *connection, const Frame &frame)
{
    // The witness stops counting before the reply goes out, so anything the
    // client asks after the reply already sees it gone.
    const std::optional<QString> joinRef = connection->joinRef;
    connection->joinRef.reset();
    m_status->localWitnesses.fetch_sub(1, std::memory_order_relaxed);
    bump(m_status->metrics.leaves);
    m_witnessCountChanged();

    send(connection, protocol::replyFrame(frame, true));

    Frame closing;
    closing.joinRef = joinRef;
    closing.ref = joinRef;
    closing.topic = frame.topic;
    closing.event = closeEvent;
    send(connection, closing);
}

void WitnessHub::send(Connection *connection, const Frame &frame)
{
    writeBytes(connection, wireBytes(frame));
}

void WitnessHub::reject(Connection *connection, NodeMetrics::RejectReason reason, CloseCode code,
                        const QByteArray &detail)
{
    bump(m_status->metrics.rejectedFrames[reason]);
    qCDebug(lcSocket, "Socket thread %d closes a WebSocket with code %d: %s.", m_index, int(code),
            detail.constData());
    closeWebSocket(connection, quint16(code), detail);
}

// --- Closing and freeing -------------------------------------------------

void WitnessHub::closeWebSocket(Connection *connection, quint16 code, const QByteArray &reason)
{
    if (connection->phase == Phase::Open)
        sendLastBytes(connection, websocket::closeFrame(code, reason));
}

void WitnessHub::sendLastBytes(Connection *connection, QByteArrayView bytes)
{
    // The bytes go out (a close frame or an HTTP rejection) and our side of
    // the TCP connection is shut behind them. What the peer still sends (its
    // own close frame, or the rest of a frame rejected at its header) is
    // read and dropped until it closes too or the deadline passes. Closing
    // with unread bytes would make the kernel reset the connection, and the
    // peer would lose what we sent.
    connection->phase = Phase::Closing; // first, so a write over the backlog limit does not close again
    connection->deadlineMs = m_status->clock()->nowMs() + closeDeadlineMs;
    writeBytes(connection, bytes);
    if (connection->phase == Phase::Gone)
        return;
    if (connection->backlog.isEmpty())
        ::shutdown(connection->descriptor, SHUT_WR);
    startDeadlineTimer();
}

void WitnessHub::drop(Connection *connection)
{
    if (connection->phase == Phase::Gone)
        return;
    ::epoll_ctl(m_epoll, EPOLL_CTL_DEL, connection->descriptor, nullptr);
    ::close(connection->descriptor);
    connection->phase = Phase::Gone;
    m_dropped.push_back(connection);

    if (connection->joinRef) {
        m_status->localWitnesses.fetch_sub(1, std::memory_order_relaxed);
        bump(m_status->metrics.leaves);
        m_witnessCountChanged();
    }
    releaseAdmitted(m_admission, m_status, connection->admissionKey);
    if (connection->countedOpen)
        m_status->openSockets.fetch_sub(1, std::memory_order_relaxed);
}

void WitnessHub::freeDropped()
{
    // Connections are freed only here, after the pass that dropped them, so
    // an epoll event or a loop over m_connections never touches freed memory.
    if (m_dropped.empty())
        return;
    for (Connection *connection : m_dropped) {
        const quint32 slot = connection->slot;
        Connection *last = m_connections.back();
        m_connections[slot] = last;
        last->slot = slot;
        m_connections.pop_back();
        delete connection;
    }
    m_dropped.clear();
    updateAccepting();
}

void WitnessHub::sweep()
{
    const qint64 now = m_status->clock()->nowMs();
    closeHttpPastTimeout(now);

    for (Connection *connection : m_connections) {
        if (connection->phase == Phase::Handshake && now - connection->lastActivityMs >= m_settings.handshakeTimeoutMs) {
            bump(m_status->metrics.handshakeTimeouts);
            drop(connection);
        } else if (connection->phase == Phase::Open && now - connection->lastActivityMs > m_settings.idleTimeoutMs) {
            bump(m_status->metrics.idleClosures);
            closeWebSocket(connection, quint16(CloseCode::Normal), "idle timeout");
        }
    }
    freeDropped();
    updateAccepting();
}

void WitnessHub::startDeadlineTimer()
{
    // Restarting a running timer would postpone it, and a steady stream of
    // closes could then hold every deadline off.
    if (!m_deadlineTimer.isActive())
        m_deadlineTimer.start();
}

void WitnessHub::enforceDeadlines()
{
    const qint64 now = m_status->clock()->nowMs();
    bool waiting = false;
    for (Connection *connection : m_connections) {
        if (connection->phase == Phase::Closing) {
            if (now >= connection->deadlineMs)
                drop(connection);
            else
                waiting = true;
        } else if (connection->phase == Phase::Open && connection->shutdownCloseAtMs >= 0) {
            if (now >= connection->shutdownCloseAtMs)
                closeWebSocket(connection, m_shutdownCode, m_shutdownReason);
            waiting = true;
        }
    }
    if (!waiting)
        m_deadlineTimer.stop();
    freeDropped();
}

void WitnessHub::closeHttpPastTimeout(qint64 now)
{
    // Plain HTTP connections end here once they pass the handshake timeout,
    // which bounds how long an idle keep-alive connection keeps a descriptor.
    auto it = m_httpConnections.begin();
    while (it != m_httpConnections.end()) {
        if (!it->socket) {
            it = m_httpConnections.erase(it);
            continue;
        }
        if (now - it->acceptedAtMs < m_settings.handshakeTimeoutMs) {
            ++it;
            continue;
        }
        if (it->socket->state() == QAbstractSocket::ConnectedState)
            bump(m_status->metrics.handshakeTimeouts);
        it->socket->abort();
        it = m_httpConnections.erase(it);
    }
}

void WitnessHub::updateAccepting()
{
    if (m_closing || !m_tcpServer)
        return;

    // Accepting pauses near the open-file limit and resumes half-way down to
    // the WebSocket limit, so a node full of witnesses resumes once the
    // connections it turned away have closed.
    const qint64 heldConnections = m_status->heldConnections.load(std::memory_order_relaxed);
    const qint64 resumeBelow = m_settings.maxHeldConnections
            - qMax<qint64>(1, (m_settings.maxHeldConnections - m_settings.maxConnections) / 2);
    if (!m_acceptingPaused && heldConnections >= m_settings.maxHeldConnections) {
        m_acceptingPaused = true;
        m_tcpServer->pauseAccepting();
        bump(m_status->metrics.acceptPauses);
        qCWarning(lcSocket, "Socket thread %d paused accepting: %lld connections held, the ceiling is %lld. "
                            "Raise the open-file limit, or lower COLLECTIVE_HANDSHAKE_TIMEOUT_MS so that "
                            "connections which never upgrade close sooner.",
                  m_index, heldConnections, m_settings.maxHeldConnections);
    } else if (m_acceptingPaused && heldConnections < resumeBelow) {
        m_acceptingPaused = false;
        m_tcpServer->resumeAccepting();
        qCInfo(lcSocket, "Socket thread %d accepts connections again: %lld connections held.", m_index,
               heldConnections);
    }

    if (m_status->atCapacity.load(std::memory_order_relaxed)
        && m_status->openSockets.load(std::memory_order_relaxed) < m_settings.maxConnections)
        noteCapacity(false);
}

void WitnessHub::noteCapacity(bool full)
{
    // Whichever thread flips the node's flag logs it, so an episode reads
    // as one warning and one recovery however many threads saw it.
    bool wasFull = !full;
    if (!m_status->atCapacity.compare_exchange_strong(wasFull, full, std::memory_order_relaxed))
        return;
    if (full)
        qCWarning(lcSocket, "This process is at its connection limit of %lld WebSockets; new upgrades get 503 "
                            "until witnesses leave. Raise COLLECTIVE_MAX_CONNECTIONS and the open-file limit to "
                            "admit more.",
                  m_settings.maxConnections);
    else
        qCInfo(lcSocket, "This process admits WebSockets again.");
}

void WitnessHub::closeAll(CloseCode code, const QString &reason, int windowMs)
{
    m_closing = true;
    if (m_tcpServer)
        m_tcpServer->close(); // stop accepting; the other threads' listeners keep the port until they close
    m_sweepTimer.stop();
    m_shutdownCode = quint16(code);
    m_shutdownReason = reason.toUtf8();

    // Each witness closes at its own random moment within the window, so the
    // witnesses' reconnects reach the next server spread out, not at once.
    // Other WebSockets close at once, and unfinished handshakes are cut.
    const qint64 now = m_status->clock()->nowMs();
    QRandomGenerator *random = QRandomGenerator::global();
    for (Connection *connection : m_connections) {
        if (connection->phase == Phase::Handshake)
            drop(connection);
        else if (connection->phase == Phase::Open && connection->joinRef && windowMs > 0)
            connection->shutdownCloseAtMs = now + qint64(random->bounded(windowMs + 1));
        else if (connection->phase == Phase::Open)
            closeWebSocket(connection, m_shutdownCode, m_shutdownReason);
    }
    freeDropped();
    startDeadlineTimer();
}

} // namespace collective
