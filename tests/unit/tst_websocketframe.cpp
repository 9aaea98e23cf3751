// The broadcast frame: the header a WebSocket client expects for each
// payload length class, checked byte by byte against RFC 6455 section 5.2.
#include "websocket/frames.h"

#include <QTest>

using namespace collective;

class TestWebSocketFrame : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void headerForEachLength_data();
    void headerForEachLength();
};

void TestWebSocketFrame::headerForEachLength_data()
{
    QTest::addColumn<int>("length");
    QTest::addColumn<QByteArray>("header");

    QTest::newRow("empty") << 0 << QByteArray::fromHex("8100");
    QTest::newRow("125, the largest 7-bit length") << 125 << QByteArray::fromHex("817d");
    QTest::newRow("126, the smallest 16-bit length") << 126 << QByteArray::fromHex("817e007e");
    QTest::newRow("65535, the largest 16-bit length") << 65535 << QByteArray::fromHex("817effff");
    QTest::newRow("65536, the smallest 64-bit length") << 65536 << QByteArray::fromHex("817f0000000000010000");
}

void TestWebSocketFrame::headerForEachLength()
{
    QFETCH(int, length);
    QFETCH(QByteArray, header);

    const QByteArray payload(length, 'x');
    const QByteArray frame = websocket::textFrame(payload);
    QCOMPARE(frame.left(header.size()).toHex(), header.toHex());
    QCOMPARE(frame.mid(header.size()), payload);
    QCOMPARE(frame.size(), header.size() + length);
}

QTEST_APPLESS_MAIN(TestWebSocketFrame)
#include "tst_websocketframe.moc"
