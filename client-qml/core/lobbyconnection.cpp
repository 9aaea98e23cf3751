#include "lobbyconnection.h"

#include "witnesslog.h"

#include <QWebSocket>

namespace collective::witness {

namespace pr = collective::protocol;

namespace {

const QString lobbyTopic = QString::fromLatin1(pr::lobbyTopic);
const QString phoenixTopic = QString::fromLatin1(pr::phoenixTopic);

// Retry messages go to the info level for the first attempts after a loss
// and then only every tenth attempt, so a server that stays away for a week
// costs a few hundred log lines rather than thousands.
bool isWorthLogging(int attempt)
{
    return attempt <= 5 || attempt % 10 == 0;
}

} // namespace

LobbyConnection::LobbyConnection(ConnectionSettings settings, QObject *parent)
    : LobbyConnection(settings, ReconnectPolicy(settings.reconnect), parent)
{
}

LobbyConnection::LobbyConnection(ConnectionSettings settings, ReconnectPolicy policy, QObject *parent)
    : QObject(parent)
    , m_settings(std::move(settings))
    , m_policy(std::move(policy))
{
    m_retryTimer.setSingleShot(true);
    connect(&m_retryTimer, &QTimer::timeout, this, &LobbyConnection::openSocket);

    m_joinTimer.setSingleShot(true);
    connect(&m_joinTimer, &QTimer::timeout, this, [this] {
        retryLater(QStringLiteral("no join reply within %1 ms").arg(m_settings.joinTimeout.count()));
    });

    m_heartbeatTimer.setInterval(m_settings.heartbeatInterval);
    connect(&m_heartbeatTimer, &QTimer::timeout, this, &LobbyConnection::handleHeartbeatDue);
}

LobbyConnection::~LobbyConnection()
{
    dropSocket();
}

void LobbyConnection::start()
{
    qCInfo(lcWitness, "Connecting to the Collective at %s.", qUtf8Printable(m_settings.url.toDisplayString()));
    openSocket();
}

void LobbyConnection::setState(State state)
{
    if (state == m_state)
        return;
    m_state = state;
    Q_EMIT stateChanged(state);
}

QString LobbyConnection::takeRef()
{
    return QString::number(m_nextRef++);
}

// ---------- Opening and losing the socket ----------

void LobbyConnection::openSocket()
{
    dropSocket();
    setState(State::Connecting);

    auto *socket = new QWebSocket(QString(), QWebSocketProtocol::VersionLatest, this);
    m_socket = socket;
    connect(socket, &QWebSocket::connected, this, &LobbyConnection::handleSocketConnected);
    connect(socket, &QWebSocket::textMessageReceived, this, &LobbyConnection::handleTextFrame);
    connect(socket, &QWebSocket::binaryMessageReceived, this, [] {
        qCWarning(lcWitness, "Ignored a binary frame from the server; the protocol uses text frames only.");
    });
    connect(socket, &QWebSocket::disconnected, this, [this, socket] {
        const QString reason = socket->closeCode() != QWebSocketProtocol::CloseCodeNormal || !socket->closeReason().isEmpty()
            ? QStringLiteral("the socket closed (code %1 %2)").arg(int(socket->closeCode())).arg(socket->closeReason())
            : QStringLiteral("the socket closed");
        handleSocketLost(reason.trimmed());
    });
    // Qt 6.4 names this signal error(); Qt 6.5 renamed it errorOccurred().
    connect(socket, qOverload<QAbstractSocket::SocketError>(&QWebSocket::error), this, [this, socket] {
        handleSocketLost(QStringLiteral("socket error: %1").arg(socket->errorString()));
    });

    m_joinTimer.start(m_settings.joinTimeout);
    socket->open(m_settings.url);
}

// Detaches and deletes the current socket without letting its last signals
// schedule another attempt.
void LobbyConnection::dropSocket()
{
    m_joinTimer.stop();
    m_heartbeatTimer.stop();
    m_pendingHeartbeatRef.reset();
    m_joinRef.clear();

    if (!m_socket)
        return;
    QWebSocket *socket = m_socket;
    m_socket = nullptr;
    disconnect(socket, nullptr, this, nullptr);
    socket->abort();
    socket->deleteLater();
}

void LobbyConnection::handleSocketLost(const QString &reason)
{
    // errorOccurred and disconnected often both arrive for one failure; the
    // first one ends the attempt, and the socket is gone for the second.
    if (!m_socket)
        return;
    retryLater(reason);
}

void LobbyConnection::retryLater(const QString &reason)
{
    const bool wasJoined = m_state == State::Joined;
    dropSocket();
    setState(State::Waiting);

    const auto delay = m_policy.nextDelay();
    const int attempt = m_policy.attempts();
    if (wasJoined) {
        qCWarning(lcWitness, "Lost the Collective: %s. Reconnecting in %lld ms.", qUtf8Printable(reason),
                  static_cast<long long>(delay.count()));
    } else if (isWorthLogging(attempt)) {
        qCInfo(lcWitness, "Attempt %d to reach the Collective failed: %s. Next attempt in %lld ms.", attempt,
               qUtf8Printable(reason), static_cast<long long>(delay.count()));
    }

    m_retryTimer.start(delay);
    Q_EMIT retryScheduled(delay.count(), reason);
}

void LobbyConnection::handleSocketConnected()
{
    m_joinRef = takeRef();
    sendFrame(pr::Frame{m_joinRef, m_joinRef, lobbyTopic, QStringLiteral("phx_join"), {}});
    m_heartbeatTimer.start();
}

// ---------- Frames from the server ----------

void LobbyConnection::handleTextFrame(const QString &text)
{
    const pr::DecodeResult decoded = pr::decodeFrame(text.toUtf8(), m_settings.maxFrameBytes);
    if (!decoded.isValid()) {
        qCWarning(lcWitness, "Ignored a server frame that is not a Phoenix V2 frame: %s.",
                  qUtf8Printable(decoded.detail));
        return;
    }
    const pr::Frame &frame = *decoded.frame;
    qCDebug(lcWitness, "Received '%s' on '%s'.", qUtf8Printable(frame.event), qUtf8Printable(frame.topic));

    if (frame.topic == phoenixTopic) {
        if (frame.event == QLatin1String("phx_reply") && frame.ref && frame.ref == m_pendingHeartbeatRef)
            m_pendingHeartbeatRef.reset();
        return;
    }
    if (frame.topic != lobbyTopic) {
        qCDebug(lcWitness, "Skipped a frame on the unexpected topic '%s'.", qUtf8Printable(frame.topic));
        return;
    }

    if (frame.event == QLatin1String("phx_reply")) {
        if (frame.ref && *frame.ref == m_joinRef)
            handleJoinReply(frame);
        return;
    }
    if (frame.event == QLatin1String("phx_close") || frame.event == QLatin1String("phx_error")) {
        if (m_socket)
            retryLater(QStringLiteral("the server ended the channel with %1").arg(frame.event));
        return;
    }
    Q_EMIT lobbyEventReceived(frame.event, frame.payload);
}

void LobbyConnection::handleJoinReply(const pr::Frame &frame)
{
    const QString status = frame.payload.value(QLatin1String("status")).toString();
    if (status != QLatin1String("ok")) {
        const QString reason = frame.payload.value(QLatin1String("response")).toObject()
                                   .value(QLatin1String("reason")).toString();
        qCWarning(lcWitness, "The server rejected the join to %s (status '%s', reason '%s').",
                  pr::lobbyTopic, qUtf8Printable(status), qUtf8Printable(reason));
        retryLater(QStringLiteral("join rejected"));
        return;
    }

    m_joinTimer.stop();
    const int attempts = m_policy.attempts();
    m_policy.reset();
    setState(State::Joined);
    if (attempts == 0)
        qCInfo(lcWitness, "Joined the Collective.");
    else
        qCInfo(lcWitness, "Joined the Collective after %d failed attempts.", attempts);
}

void LobbyConnection::handleHeartbeatDue()
{
    if (!m_socket)
        return;
    if (m_pendingHeartbeatRef) {
        retryLater(QStringLiteral("no heartbeat reply within %1 ms").arg(m_settings.heartbeatInterval.count()));
        return;
    }
    m_pendingHeartbeatRef = takeRef();
    sendFrame(pr::Frame{std::nullopt, m_pendingHeartbeatRef, phoenixTopic, QStringLiteral("heartbeat"), {}});
}

void LobbyConnection::sendFrame(const pr::Frame &frame)
{
    if (!m_socket)
        return;
    m_socket->sendTextMessage(QString::fromUtf8(pr::encodeFrame(frame)));
}

} // namespace collective::witness
