// The client frame reader: whole messages out of masked frames however the
// bytes are split, and each RFC 6455 violation with its close code.
#include "websocket/framereader.h"

#include <QTest>

using namespace collective::websocket;

namespace {

// A client frame as RFC 6455 section 5.2 lays it out, masked with a fixed key.
QByteArray clientFrame(quint8 firstByte, const QByteArray &payload, bool masked = true)
{
    static const QByteArray mask = QByteArray::fromHex("37fa213d");
    QByteArray frame;
    frame.append(char(firstByte));
    const quint64 length = quint64(payload.size());
    const char maskBit = masked ? char(0x80) : char(0);
    if (length < 126) {
        frame.append(char(maskBit | char(length)));
    } else if (length <= 0xffff) {
        frame.append(char(maskBit | 126));
        frame.append(char(length >> 8));
        frame.append(char(length & 0xff));
    } else {
        frame.append(char(maskBit | 127));
        for (int shift = 56; shift >= 0; shift -= 8)
            frame.append(char((length >> shift) & 0xff));
    }
    if (!masked)
        return frame + payload;
    frame.append(mask);
    for (qsizetype i = 0; i < payload.size(); ++i)
        frame.append(char(payload.at(i) ^ mask.at(i & 3)));
    return frame;
}

QByteArray closePayload(quint16 code, const QByteArray &reason = {})
{
    QByteArray payload;
    payload.append(char(code >> 8));
    payload.append(char(code & 0xff));
    return payload + reason;
}

struct Outcome
{
    QList<Message> messages;
    std::optional<ReadError> error;
};

// Feeds `bytes` to a fresh reader in pieces of `chunk` bytes.
Outcome readInChunks(const QByteArray &bytes, qsizetype chunk, qsizetype maxMessageBytes = 4096)
{
    FrameReader reader(maxMessageBytes);
    Outcome outcome;
    for (qsizetype offset = 0; offset < bytes.size() && !outcome.error; offset += chunk) {
        outcome.error = reader.read(QByteArrayView(bytes).sliced(offset, qMin(chunk, bytes.size() - offset)),
                                    [&outcome](Message &&message) {
                                        outcome.messages.append(std::move(message));
                                        return true;
                                    });
    }
    return outcome;
}

} // namespace

class TestFrameReader : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void messagesSurviveAnySplit();
    void lengthEncodings_data();
    void lengthEncodings();
    void fragmentedTextWithPingBetween();
    void closeFrameEndsReading();
    void violations_data();
    void violations();
    void oversizedMessageRejectedAtItsHeader();
    void idleReaderKeepsNothing();
    void utf8_data();
    void utf8();
};

void TestFrameReader::messagesSurviveAnySplit()
{
    const QByteArray heartbeat = R"([null,"1","phoenix","heartbeat",{}])";
    const QByteArray bytes = clientFrame(0x81, heartbeat) + clientFrame(0x89, "ping!") + clientFrame(0x81, "[]");

    for (qsizetype chunk = 1; chunk <= bytes.size(); ++chunk) {
        const Outcome outcome = readInChunks(bytes, chunk);
        QVERIFY2(!outcome.error, qPrintable(QStringLiteral("chunk %1").arg(chunk)));
        QCOMPARE(outcome.messages.size(), 3);
        QCOMPARE(outcome.messages[0].kind, Message::Text);
        QCOMPARE(outcome.messages[0].payload, heartbeat);
        QCOMPARE(outcome.messages[1].kind, Message::Ping);
        QCOMPARE(outcome.messages[1].payload, QByteArray("ping!"));
        QCOMPARE(outcome.messages[2].payload, QByteArray("[]"));
    }
}

void TestFrameReader::lengthEncodings_data()
{
    QTest::addColumn<int>("length");
    QTest::newRow("125 in 7 bits") << 125;
    QTest::newRow("126 in 16 bits") << 126;
    QTest::newRow("65535 in 16 bits") << 65535;
    QTest::newRow("65536 in 64 bits") << 65536;
}

void TestFrameReader::lengthEncodings()
{
    QFETCH(int, length);
    const QByteArray payload(length, 'a');
    const Outcome outcome = readInChunks(clientFrame(0x81, payload), 1000, 70000);
    QVERIFY(!outcome.error);
    QCOMPARE(outcome.messages.size(), 1);
    QCOMPARE(outcome.messages[0].payload, payload);
}

void TestFrameReader::fragmentedTextWithPingBetween()
{
    // "héllo" split inside its two-byte character, with a ping between
    // the fragments: valid once whole.
    const QByteArray text = QString::fromUtf8("h\u00e9llo").toUtf8();
    const QByteArray bytes = clientFrame(0x01, text.left(2)) + clientFrame(0x89, {})
            + clientFrame(0x00, text.mid(2, 2)) + clientFrame(0x80, text.mid(4));

    const Outcome outcome = readInChunks(bytes, 3);
    QVERIFY(!outcome.error);
    QCOMPARE(outcome.messages.size(), 2);
    QCOMPARE(outcome.messages[0].kind, Message::Ping);
    QCOMPARE(outcome.messages[1].kind, Message::Text);
    QCOMPARE(outcome.messages[1].payload, text);
}

void TestFrameReader::closeFrameEndsReading()
{
    const QByteArray bytes = clientFrame(0x88, closePayload(4000, "bye")) + clientFrame(0x81, "after");
    const Outcome outcome = readInChunks(bytes, bytes.size());
    QVERIFY(!outcome.error);
    QCOMPARE(outcome.messages.size(), 1);
    QCOMPARE(outcome.messages[0].kind, Message::Close);
    QCOMPARE(outcome.messages[0].closeCode, quint16(4000));
    QCOMPARE(outcome.messages[0].payload, QByteArray("bye"));

    // Reading stays stopped: a later read yields nothing.
    FrameReader reader(4096);
    int messages = 0;
    const auto count = [&messages](Message &&) { return ++messages > 0; };
    QVERIFY(!reader.read(clientFrame(0x88, closePayload(1000)), count));
    QVERIFY(!reader.read(clientFrame(0x81, "[]"), count));
    QCOMPARE(messages, 1);

    const Outcome empty = readInChunks(clientFrame(0x88, {}), 10);
    QCOMPARE(empty.messages.size(), 1);
    QCOMPARE(empty.messages[0].closeCode, quint16(1005));
}

void TestFrameReader::violations_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<int>("closeCode");

    QTest::newRow("unmasked frame") << clientFrame(0x81, "[]", false) << 1002;
    QTest::newRow("reserved bit 1") << clientFrame(0xc1, "[]") << 1002;
    QTest::newRow("opcode 3") << clientFrame(0x83, "[]") << 1002;
    QTest::newRow("opcode 11") << clientFrame(0x8b, "") << 1002;
    QTest::newRow("fragmented ping") << clientFrame(0x09, "x") << 1002;
    QTest::newRow("ping of 126 bytes") << clientFrame(0x89, QByteArray(126, 'x')) << 1002;
    QTest::newRow("continuation first") << clientFrame(0x80, "x") << 1002;
    QTest::newRow("text inside a fragmented text") << clientFrame(0x01, "a") + clientFrame(0x81, "b") << 1002;
    QTest::newRow("close with 1 byte") << clientFrame(0x88, "x") << 1002;
    QTest::newRow("close code 1005") << clientFrame(0x88, closePayload(1005)) << 1002;
    QTest::newRow("close code 999") << clientFrame(0x88, closePayload(999)) << 1002;
    QTest::newRow("close code 5000") << clientFrame(0x88, closePayload(5000)) << 1002;
    QTest::newRow("close reason not UTF-8") << clientFrame(0x88, closePayload(1000, "\xff")) << 1007;
    QTest::newRow("text not UTF-8") << clientFrame(0x81, "\xc0\xaf") << 1007;
    QTest::newRow("fragments not UTF-8 once whole") << clientFrame(0x01, "\xe2\x82") + clientFrame(0x80, "A") << 1007;
    QTest::newRow("text over the limit") << clientFrame(0x81, QByteArray(4097, 'x')) << 1009;
    QTest::newRow("fragments over the limit")
            << clientFrame(0x01, QByteArray(4000, 'x')) + clientFrame(0x80, QByteArray(97, 'x')) << 1009;
}

void TestFrameReader::violations()
{
    QFETCH(QByteArray, bytes);
    QFETCH(int, closeCode);

    for (qsizetype chunk : {qsizetype(1), bytes.size()}) {
        const Outcome outcome = readInChunks(bytes, chunk);
        QVERIFY2(outcome.error, qPrintable(QStringLiteral("chunk %1").arg(chunk)));
        QCOMPARE(int(outcome.error->closeCode), closeCode);
        QVERIFY(qstrlen(outcome.error->detail) > 0);
    }
}

void TestFrameReader::oversizedMessageRejectedAtItsHeader()
{
    // Only the 14 header bytes of a 1 MiB frame arrive; the reader rejects
    // it without waiting for (or keeping) the payload.
    const QByteArray header = clientFrame(0x81, QByteArray(1 << 20, 'x')).left(14);
    FrameReader reader(4096);
    const auto error = reader.read(header, [](Message &&) { return true; });
    QVERIFY(error);
    QCOMPARE(error->closeCode, quint16(1009));
}

void TestFrameReader::idleReaderKeepsNothing()
{
    FrameReader reader(4096);
    const QByteArray frame = clientFrame(0x81, "[null,null,\"phoenix\",\"heartbeat\",{}]");
    QVERIFY(!reader.read(frame.left(5), [](Message &&) { return true; }));
    QCOMPARE(reader.bufferedBytes(), 5);
    int messages = 0;
    QVERIFY(!reader.read(QByteArrayView(frame).sliced(5), [&messages](Message &&) { return ++messages > 0; }));
    QCOMPARE(messages, 1);
    QCOMPARE(reader.bufferedBytes(), 0);
}

void TestFrameReader::utf8_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<bool>("valid");

    QTest::newRow("ASCII") << QByteArray("phoenix") << true;
    QTest::newRow("two bytes") << QByteArray("\xc3\xa9") << true;
    QTest::newRow("three bytes") << QByteArray("\xe2\x82\xac") << true;
    QTest::newRow("four bytes") << QByteArray("\xf0\x9f\x98\x80") << true;
    QTest::newRow("U+10FFFF") << QByteArray("\xf4\x8f\xbf\xbf") << true;
    QTest::newRow("overlong slash") << QByteArray("\xc0\xaf") << false;
    QTest::newRow("overlong three bytes") << QByteArray("\xe0\x80\xaf") << false;
    QTest::newRow("surrogate D800") << QByteArray("\xed\xa0\x80") << false;
    QTest::newRow("above U+10FFFF") << QByteArray("\xf4\x90\x80\x80") << false;
    QTest::newRow("lone continuation") << QByteArray("\x80") << false;
    QTest::newRow("cut sequence") << QByteArray("\xe2\x82") << false;
    QTest::newRow("byte FF") << QByteArray("\xff") << false;
}

void TestFrameReader::utf8()
{
    QFETCH(QByteArray, bytes);
    QFETCH(bool, valid);
    QCOMPARE(isValidUtf8(bytes), valid);
}

QTEST_APPLESS_MAIN(TestFrameReader)
#include "tst_framereader.moc"
