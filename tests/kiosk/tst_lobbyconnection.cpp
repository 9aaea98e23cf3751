// LobbyConnection against a small Phoenix server on loopback: it joins,
// heartbeats, forwards lobby events, survives malformed frames and reconnects
// with backoff whenever the server goes away.
#include "lobbyconnection.h"

#include "protocol/frame.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QTest>
#include <QWebSocket>
#include <QWebSocketServer>

using namespace collective::witness;
using namespace std::chrono_literals;
namespace pr = collective::protocol;

namespace {

// A Phoenix-speaking server with switches for the faults a test needs.
class FakeServer : public QObject
{
    Q_OBJECT

public:
    bool replyToJoin = true;
    bool acceptJoin = true;
    bool replyToHeartbeats = true;
    QList<pr::Frame> received;
    QList<QWebSocket *> sockets;
    int connections = 0;

    FakeServer()
        : m_server(QStringLiteral("fake-collective"), QWebSocketServer::NonSecureMode)
    {
        connect(&m_server, &QWebSocketServer::newConnection, this, &FakeServer::acceptSockets);
    }

    bool listen() { return m_server.listen(QHostAddress::LocalHost, 0); }

    QUrl url() const
    {
        return QUrl(QStringLiteral("ws://127.0.0.1:%1/socket/websocket?vsn=2.0.0").arg(m_server.serverPort()));
    }

    void send(QWebSocket *socket, const pr::Frame &frame)
    {
        socket->sendTextMessage(QString::fromUtf8(pr::encodeFrame(frame)));
    }

    void closeAll()
    {
        for (QWebSocket *socket : std::as_const(sockets))
            socket->close(QWebSocketProtocol::CloseCodeGoingAway, QStringLiteral("restart"));
        sockets.clear();
    }

    int countEvents(const QString &event) const
    {
        return static_cast<int>(std::count_if(received.cbegin(), received.cend(),
                                              [&](const pr::Frame &frame) { return frame.event == event; }));
    }

Q_SIGNALS:
    void frameReceived(const collective::protocol::Frame &frame);

private:
    void acceptSockets()
    {
        while (QWebSocket *socket = m_server.nextPendingConnection()) {
            socket->setParent(this);
            sockets.append(socket);
            ++connections;
            connect(socket, &QWebSocket::textMessageReceived, this,
                    [this, socket](const QString &text) { handle(socket, text); });
            connect(socket, &QWebSocket::disconnected, this, [this, socket] { sockets.removeAll(socket); });
        }
    }

    void handle(QWebSocket *socket, const QString &text)
    {
        const pr::DecodeResult decoded = pr::decodeFrame(text.toUtf8(), 4096);
        if (!decoded.isValid())
            return;
        const pr::Frame frame = *decoded.frame;
        received.append(frame);
        Q_EMIT frameReceived(frame);

        if (frame.event == QLatin1String("phx_join") && replyToJoin) {
            send(socket, acceptJoin ? pr::replyFrame(frame, true) : pr::errorReplyFrame(frame, QStringLiteral("full")));
            if (acceptJoin)
                send(socket, pr::Frame{frame.joinRef, std::nullopt, frame.topic, QStringLiteral("welcome"), welcome()});
        } else if (frame.event == QLatin1String("heartbeat") && replyToHeartbeats) {
            send(socket, pr::replyFrame(frame, true));
        }
    }

    static QJsonObject welcome()
    {
        return QJsonObject{
            {QStringLiteral("concurrent_connections"), 1},
            {QStringLiteral("peak_connections"), 1},
            {QStringLiteral("total_connection_seconds"), 0},
            {QStringLiteral("unlocked_milestones"), QJsonArray()},
            {QStringLiteral("milestones"), QJsonArray()},
            {QStringLiteral("tick_interval_ms"), 5000},
            {QStringLiteral("server_time"), QStringLiteral("2026-12-04T20:19:01.000Z")},
        };
    }

    QWebSocketServer m_server;
};

ConnectionSettings fastSettings(const QUrl &url)
{
    ConnectionSettings settings;
    settings.url = url;
    settings.reconnect = ReconnectSettings{50ms, 200ms, 0.2};
    settings.heartbeatInterval = 30000ms;
    settings.joinTimeout = 2000ms;
    return settings;
}

} // namespace

class TestLobbyConnection : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void joinsLobbyAndForwardsEvents();
    void sendsHeartbeatsOnPhoenixTopic();
    void malformedFrameIsIgnored_data();
    void malformedFrameIsIgnored();
    void reconnectsAfterServerCloses();
    void successfulJoinResetsBackoff();
    void rejectedJoinIsRetried();
    void silentJoinTimesOut();
    void missingHeartbeatReplyReconnects();
    void unreachableServerKeepsRetrying();
};

void TestLobbyConnection::joinsLobbyAndForwardsEvents()
{
    FakeServer server;
    QVERIFY(server.listen());
    LobbyConnection connection(fastSettings(server.url()));
    QSignalSpy eventSpy(&connection, &LobbyConnection::lobbyEventReceived);

    connection.start();

    QTRY_COMPARE(connection.state(), LobbyConnection::State::Joined);
    QTRY_COMPARE(eventSpy.count(), 1);
    QCOMPARE(eventSpy.first().at(0).toString(), QStringLiteral("welcome"));
    QCOMPARE(eventSpy.first().at(1).toJsonObject().value(QLatin1String("tick_interval_ms")).toInt(), 5000);

    const pr::Frame join = server.received.first();
    QCOMPARE(join.topic, QStringLiteral("collective:lobby"));
    QCOMPARE(join.event, QStringLiteral("phx_join"));
    QVERIFY(join.joinRef.has_value());
    QCOMPARE(join.joinRef, join.ref);
    QVERIFY(join.payload.isEmpty());

    // A broadcast, as the server sends it: null refs.
    server.send(server.sockets.first(), pr::broadcastFrame(QStringLiteral("presence"),
        QJsonObject{{QStringLiteral("concurrent_connections"), 2}, {QStringLiteral("peak_connections"), 2}}));
    QTRY_COMPARE(eventSpy.count(), 2);
    QCOMPARE(eventSpy.last().at(0).toString(), QStringLiteral("presence"));
}

void TestLobbyConnection::sendsHeartbeatsOnPhoenixTopic()
{
    FakeServer server;
    QVERIFY(server.listen());
    ConnectionSettings settings = fastSettings(server.url());
    settings.heartbeatInterval = 100ms;
    LobbyConnection connection(settings);
    QSignalSpy retrySpy(&connection, &LobbyConnection::retryScheduled);

    connection.start();

    QTRY_VERIFY(server.countEvents(QStringLiteral("heartbeat")) >= 3);
    const auto heartbeat = std::find_if(server.received.cbegin(), server.received.cend(), [](const pr::Frame &frame) {
        return frame.event == QLatin1String("heartbeat");
    });
    QCOMPARE(heartbeat->topic, QStringLiteral("phoenix"));
    QVERIFY(!heartbeat->joinRef.has_value());
    QVERIFY(heartbeat->ref.has_value());
    // Answered heartbeats keep the one socket open.
    QCOMPARE(server.connections, 1);
    QCOMPARE(retrySpy.count(), 0);
    QCOMPARE(connection.state(), LobbyConnection::State::Joined);
}

void TestLobbyConnection::malformedFrameIsIgnored_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<QString>("detail");

    QTest::newRow("not JSON") << QStringLiteral("hello, kiosk") << QStringLiteral("frame is not valid JSON");
    QTest::newRow("object, not array") << QStringLiteral(R"({"event":"tick"})") << QStringLiteral("frame is not a JSON array");
    QTest::newRow("three elements") << QStringLiteral(R"([null,null,"collective:lobby"])")
                                    << QStringLiteral("frame array does not have five elements");
    QTest::newRow("numeric topic") << QStringLiteral(R"([null,null,5,"tick",{}])") << QStringLiteral("topic is not a string");
    QTest::newRow("payload not object") << QStringLiteral(R"([null,null,"collective:lobby","tick",[1]])")
                                        << QStringLiteral("payload is not an object");
    QTest::newRow("empty text") << QString() << QStringLiteral("frame is not valid JSON");
}

void TestLobbyConnection::malformedFrameIsIgnored()
{
    QFETCH(QString, text);
    QFETCH(QString, detail);
    LobbyConnection connection(fastSettings(QUrl(QStringLiteral("ws://127.0.0.1:9/socket/websocket?vsn=2.0.0"))));
    QSignalSpy eventSpy(&connection, &LobbyConnection::lobbyEventReceived);
    QSignalSpy stateSpy(&connection, &LobbyConnection::stateChanged);

    QTest::ignoreMessage(QtWarningMsg,
                         qPrintable(QStringLiteral("Ignored a server frame that is not a Phoenix V2 frame: %1.").arg(detail)));
    connection.handleTextFrame(text);

    QCOMPARE(eventSpy.count(), 0);
    QCOMPARE(stateSpy.count(), 0);
}

void TestLobbyConnection::reconnectsAfterServerCloses()
{
    FakeServer server;
    QVERIFY(server.listen());
    LobbyConnection connection(fastSettings(server.url()));
    QSignalSpy stateSpy(&connection, &LobbyConnection::stateChanged);
    QSignalSpy retrySpy(&connection, &LobbyConnection::retryScheduled);
    connection.start();
    QTRY_COMPARE(connection.state(), LobbyConnection::State::Joined);

    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("^Lost the Collective: .*Reconnecting in \\d+ ms\\.$")));
    server.closeAll();

    QTRY_COMPARE(retrySpy.count(), 1);
    QVERIFY(retrySpy.first().at(0).toLongLong() >= 40 && retrySpy.first().at(0).toLongLong() <= 60);
    QTRY_COMPARE(server.connections, 2);
    QTRY_COMPARE(connection.state(), LobbyConnection::State::Joined);
    QCOMPARE(server.countEvents(QStringLiteral("phx_join")), 2);

    QList<LobbyConnection::State> states;
    for (const QList<QVariant> &arguments : std::as_const(stateSpy))
        states.append(arguments.first().value<LobbyConnection::State>());
    QCOMPARE(states, (QList<LobbyConnection::State>{LobbyConnection::State::Joined, LobbyConnection::State::Waiting,
                                                    LobbyConnection::State::Connecting, LobbyConnection::State::Joined}));
}

void TestLobbyConnection::successfulJoinResetsBackoff()
{
    // Three rejected joins grow the delay; the accepted fourth resets it.
    FakeServer server;
    QVERIFY(server.listen());
    server.acceptJoin = false;
    LobbyConnection connection(fastSettings(server.url()));
    QSignalSpy retrySpy(&connection, &LobbyConnection::retryScheduled);
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("^The server rejected the join")));
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("^The server rejected the join")));
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("^The server rejected the join")));
    connection.start();

    QTRY_COMPARE(retrySpy.count(), 3);
    server.acceptJoin = true;
    QCOMPARE(connection.policy().attempts(), 3);
    QTRY_COMPARE(connection.state(), LobbyConnection::State::Joined);
    QCOMPARE(connection.policy().attempts(), 0);

    // 50 ms, then 100 ms, then 200 ms (the cap), each within 20 %.
    const QList<qint64> bases{50, 100, 200};
    for (int attempt = 0; attempt < 3; ++attempt) {
        const qint64 delay = retrySpy.at(attempt).at(0).toLongLong();
        QVERIFY2(delay >= bases.at(attempt) * 0.8 && delay <= bases.at(attempt) * 1.2,
                 qPrintable(QStringLiteral("retry %1 after %2 ms").arg(attempt).arg(delay)));
    }
}

void TestLobbyConnection::rejectedJoinIsRetried()
{
    FakeServer server;
    QVERIFY(server.listen());
    server.acceptJoin = false;
    LobbyConnection connection(fastSettings(server.url()));
    QSignalSpy retrySpy(&connection, &LobbyConnection::retryScheduled);

    QTest::ignoreMessage(QtWarningMsg, "The server rejected the join to collective:lobby (status 'error', reason 'full').");
    connection.start();

    QTRY_COMPARE(retrySpy.count(), 1);
    QCOMPARE(retrySpy.first().at(1).toString(), QStringLiteral("join rejected"));
    QCOMPARE(connection.state(), LobbyConnection::State::Waiting);
}

void TestLobbyConnection::silentJoinTimesOut()
{
    FakeServer server;
    QVERIFY(server.listen());
    server.replyToJoin = false;
    ConnectionSettings settings = fastSettings(server.url());
    settings.joinTimeout = 200ms;
    LobbyConnection connection(settings);
    QSignalSpy retrySpy(&connection, &LobbyConnection::retryScheduled);

    connection.start();

    QTRY_COMPARE(retrySpy.count(), 1);
    QCOMPARE(retrySpy.first().at(1).toString(), QStringLiteral("no join reply within 200 ms"));
    QTRY_VERIFY(server.connections >= 2);
}

void TestLobbyConnection::missingHeartbeatReplyReconnects()
{
    // A network that drops packets without closing TCP: the socket looks
    // open, but the heartbeat goes unanswered.
    FakeServer server;
    QVERIFY(server.listen());
    server.replyToHeartbeats = false;
    ConnectionSettings settings = fastSettings(server.url());
    settings.heartbeatInterval = 100ms;
    LobbyConnection connection(settings);
    QSignalSpy retrySpy(&connection, &LobbyConnection::retryScheduled);

    QTest::ignoreMessage(QtWarningMsg,
                         QRegularExpression(QStringLiteral("^Lost the Collective: no heartbeat reply within 100 ms\\.")));
    connection.start();

    QTRY_COMPARE(retrySpy.count(), 1);
    QCOMPARE(retrySpy.first().at(1).toString(), QStringLiteral("no heartbeat reply within 100 ms"));
    QTRY_VERIFY(server.connections >= 2);
}

void TestLobbyConnection::unreachableServerKeepsRetrying()
{
    // Nothing listens on the discard port of loopback: every attempt
    // fails, and none is the last.
    LobbyConnection connection(fastSettings(QUrl(QStringLiteral("ws://127.0.0.1:9/socket/websocket?vsn=2.0.0"))));
    QSignalSpy retrySpy(&connection, &LobbyConnection::retryScheduled);

    connection.start();

    QTRY_VERIFY_WITH_TIMEOUT(retrySpy.count() >= 8, 5000);
    QCOMPARE(connection.state() == LobbyConnection::State::Joined, false);
    for (const QList<QVariant> &arguments : std::as_const(retrySpy))
        QVERIFY(arguments.at(0).toLongLong() <= 240);
}

QTEST_GUILESS_MAIN(TestLobbyConnection)
#include "tst_lobbyconnection.moc"
