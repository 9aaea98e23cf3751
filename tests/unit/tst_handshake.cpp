// The opening handshake: request heads read from partial bytes, the checks
// RFC 6455 section 4.2.1 requires of an upgrade, and the accept key.
#include "websocket/handshake.h"

#include <QTest>

using namespace collective::websocket;

namespace {

const QByteArray upgradeRequest = "GET /socket/websocket?vsn=2.0.0&token=x HTTP/1.1\r\n"
                                  "Host: 127.0.0.1:4000\r\n"
                                  "Upgrade: websocket\r\n"
                                  "Connection: keep-alive, Upgrade\r\n"
                                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                  "Sec-WebSocket-Version: 13\r\n"
                                  "Origin: http://localhost:4000\r\n"
                                  "\r\n";

RequestHead parsed(const QByteArray &bytes)
{
    RequestHead head;
    const HeadStatus status = parseRequestHead(bytes, 8192, &head);
    if (status != HeadStatus::Complete)
        qFatal("the test request did not parse");
    return head;
}

} // namespace

class TestHandshake : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void acceptKeyOfTheRfcExample();
    void headIncompleteUntilEmptyLine();
    void headFields();
    void headTooLarge();
    void headMalformed_data();
    void headMalformed();
    void upgradeChecks_data();
    void upgradeChecks();
    void switchingProtocolsAnswer();
    void plainAnswer();
    void upgradeRequiredAnswer();
    void statusLines_data();
    void statusLines();
};

void TestHandshake::acceptKeyOfTheRfcExample()
{
    // The example of RFC 6455 section 1.3.
    QCOMPARE(acceptKeyFor("dGhlIHNhbXBsZSBub25jZQ=="), QByteArray("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
}

void TestHandshake::headIncompleteUntilEmptyLine()
{
    RequestHead head;
    for (qsizetype length = 0; length < upgradeRequest.size(); ++length)
        QCOMPARE(parseRequestHead(upgradeRequest.left(length), 8192, &head), HeadStatus::Incomplete);
    QCOMPARE(parseRequestHead(upgradeRequest + "\x81\x80", 8192, &head), HeadStatus::Complete);
    QCOMPARE(head.size, upgradeRequest.size());
}

void TestHandshake::headFields()
{
    const RequestHead head = parsed(upgradeRequest);
    QCOMPARE(head.method, QByteArray("GET"));
    QCOMPARE(head.path(), QByteArray("/socket/websocket"));
    QCOMPARE(head.queryValue("vsn"), QByteArray("2.0.0"));
    QCOMPARE(head.queryValue("token"), QByteArray("x"));
    QCOMPARE(head.queryValue("missing"), QByteArray());
    QCOMPARE(head.value("sec-websocket-version"), QByteArray("13"));
    QCOMPARE(head.value("origin"), QByteArray("http://localhost:4000"));
    QVERIFY(isUpgradeRequest(head));

    const RequestHead repeated = parsed("GET / HTTP/1.1\r\nX-A: 1\r\nx-a:  2 \r\n\r\n");
    QCOMPARE(repeated.value("x-a"), QByteArray("1, 2"));
    QVERIFY(!isUpgradeRequest(repeated));
}

void TestHandshake::headTooLarge()
{
    RequestHead head;
    const QByteArray endless = "GET / HTTP/1.1\r\nX-Filler: " + QByteArray(9000, 'x');
    QCOMPARE(parseRequestHead(endless, 8192, &head), HeadStatus::TooLarge);
    QCOMPARE(parseRequestHead(endless + "\r\n\r\n", 8192, &head), HeadStatus::TooLarge);
}

void TestHandshake::headMalformed_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::newRow("two words") << QByteArray("GET /\r\n\r\n");
    QTest::newRow("target without slash") << QByteArray("GET socket HTTP/1.1\r\n\r\n");
    QTest::newRow("not HTTP") << QByteArray("GET / SPDY/3\r\n\r\n");
    QTest::newRow("header without colon") << QByteArray("GET / HTTP/1.1\r\nUpgrade websocket\r\n\r\n");
}

void TestHandshake::headMalformed()
{
    QFETCH(QByteArray, bytes);
    RequestHead head;
    QCOMPARE(parseRequestHead(bytes, 8192, &head), HeadStatus::Malformed);
}

void TestHandshake::upgradeChecks_data()
{
    QTest::addColumn<QByteArray>("request");
    QTest::addColumn<int>("status");

    QTest::newRow("valid") << upgradeRequest << 0;
    QByteArray post = upgradeRequest;
    QTest::newRow("POST") << post.replace("GET ", "POST ") << 400;
    QByteArray http10 = upgradeRequest;
    QTest::newRow("HTTP/1.0") << http10.replace("HTTP/1.1\r\n", "HTTP/1.0\r\n") << 400;
    QByteArray noConnection = upgradeRequest;
    QTest::newRow("no Connection: Upgrade") << noConnection.replace("keep-alive, Upgrade", "keep-alive") << 400;
    QByteArray version8 = upgradeRequest;
    QTest::newRow("version 8") << version8.replace("Version: 13", "Version: 8") << 426;
    QByteArray shortKey = upgradeRequest;
    QTest::newRow("key of 8 bytes") << shortKey.replace("dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnRrZXk=") << 400;
}

void TestHandshake::upgradeChecks()
{
    QFETCH(QByteArray, request);
    QFETCH(int, status);
    QCOMPARE(checkUpgradeRequest(parsed(request)).status, status);
}

void TestHandshake::switchingProtocolsAnswer()
{
    const QByteArray answer = switchingProtocolsResponse(parsed(upgradeRequest));
    QVERIFY(answer.startsWith("HTTP/1.1 101 Switching Protocols\r\n"));
    QVERIFY(answer.contains("\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    QVERIFY(answer.contains("\r\nUpgrade: websocket\r\n"));
    QVERIFY(answer.endsWith("\r\n\r\n"));
}

void TestHandshake::plainAnswer()
{
    const QByteArray answer = plainResponse(404, "Not found.\n");
    QVERIFY(answer.startsWith("HTTP/1.1 404 Not Found\r\n"));
    QVERIFY(answer.contains("\r\nContent-Length: 11\r\n"));
    QVERIFY(answer.endsWith("\r\n\r\nNot found.\n"));
    QVERIFY(answer.contains("\r\nConnection: close\r\n"));
    QVERIFY(!answer.contains("Upgrade"));
}

void TestHandshake::upgradeRequiredAnswer()
{
    const QByteArray answer = plainResponse(426, "Version 13 only.\n", "Sec-WebSocket-Version: 13\r\n");
    QVERIFY(answer.startsWith("HTTP/1.1 426 Upgrade Required\r\n"));
    QVERIFY(answer.contains("\r\nUpgrade: websocket\r\n"));
    QVERIFY(answer.contains("\r\nConnection: Upgrade, close\r\n"));
    QVERIFY(answer.contains("\r\nSec-WebSocket-Version: 13\r\n"));
}

// Every status the server sends before a connection is a WebSocket has its
// own reason phrase.
void TestHandshake::statusLines_data()
{
    QTest::addColumn<int>("status");
    QTest::addColumn<QByteArray>("statusLine");
    QTest::newRow("400") << 400 << QByteArray("HTTP/1.1 400 Bad Request\r\n");
    QTest::newRow("403") << 403 << QByteArray("HTTP/1.1 403 Forbidden\r\n");
    QTest::newRow("404") << 404 << QByteArray("HTTP/1.1 404 Not Found\r\n");
    QTest::newRow("426") << 426 << QByteArray("HTTP/1.1 426 Upgrade Required\r\n");
    QTest::newRow("429") << 429 << QByteArray("HTTP/1.1 429 Too Many Requests\r\n");
    QTest::newRow("431") << 431 << QByteArray("HTTP/1.1 431 Request Header Fields Too Large\r\n");
    QTest::newRow("503") << 503 << QByteArray("HTTP/1.1 503 Service Unavailable\r\n");
}

void TestHandshake::statusLines()
{
    QFETCH(int, status);
    QFETCH(QByteArray, statusLine);
    QVERIFY2(plainResponse(status, "body\n").startsWith(statusLine), statusLine.constData());
}

QTEST_APPLESS_MAIN(TestHandshake)
#include "tst_handshake.moc"
