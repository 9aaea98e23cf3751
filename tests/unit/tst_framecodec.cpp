// The Phoenix V2 frame codec: valid frames decode to their five parts,
// malformed ones are rejected with the close code that names the fault.
#include "protocol/frame.h"

#include <QTest>

using namespace collective::protocol;

class TestFrameCodec : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void decodesValidFrames_data();
    void decodesValidFrames();
    void rejectsMalformedFrames_data();
    void rejectsMalformedFrames();
    void encodesRepliesWithTheRequestRefs();
    void encodesBroadcastsWithNullRefs();
    void roundTripsThroughEncodeAndDecode();
};

void TestFrameCodec::decodesValidFrames_data()
{
    QTest::addColumn<QByteArray>("input");
    QTest::addColumn<QString>("joinRef");
    QTest::addColumn<QString>("ref");
    QTest::addColumn<QString>("topic");
    QTest::addColumn<QString>("event");

    QTest::newRow("join") << QByteArray(R"(["1","1","collective:lobby","phx_join",{}])") << "1"
                          << "1" << "collective:lobby" << "phx_join";
    QTest::newRow("heartbeat with null join_ref")
            << QByteArray(R"([null,"7","phoenix","heartbeat",{}])") << QString() << "7" << "phoenix" << "heartbeat";
    QTest::newRow("both refs null") << QByteArray(R"([null,null,"t","e",{"a":1}])") << QString() << QString() << "t"
                                    << "e";
    QTest::newRow("whitespace around") << QByteArray(" [ \"3\" , \"4\" , \"x\" , \"y\" , { } ] \n") << "3" << "4"
                                       << "x" << "y";
    QTest::newRow("unicode topic") << QByteArray(R"(["1","2","lobby:\u00e9t\u00e9","ev",{}])") << "1" << "2"
                                   << QString::fromUtf8("lobby:été") << "ev";
}

void TestFrameCodec::decodesValidFrames()
{
    QFETCH(QByteArray, input);
    QFETCH(QString, joinRef);
    QFETCH(QString, ref);
    QFETCH(QString, topic);
    QFETCH(QString, event);

    const DecodeResult result = decodeFrame(input, 4096);
    QVERIFY2(result.isValid(), qPrintable(result.detail));
    QCOMPARE(result.error, DecodeError::None);
    QCOMPARE(result.frame->joinRef.has_value(), !joinRef.isNull());
    if (!joinRef.isNull())
        QCOMPARE(*result.frame->joinRef, joinRef);
    QCOMPARE(result.frame->ref.has_value(), !ref.isNull());
    if (!ref.isNull())
        QCOMPARE(*result.frame->ref, ref);
    QCOMPARE(result.frame->topic, topic);
    QCOMPARE(result.frame->event, event);
}

void TestFrameCodec::rejectsMalformedFrames_data()
{
    QTest::addColumn<QByteArray>("input");
    QTest::addColumn<int>("maxBytes");
    QTest::addColumn<DecodeError>("error");
    QTest::addColumn<int>("closeCode");

    QTest::newRow("plain text") << QByteArray("hello") << 4096 << DecodeError::NotJson << 1007;
    QTest::newRow("empty") << QByteArray("") << 4096 << DecodeError::NotJson << 1007;
    QTest::newRow("truncated array") << QByteArray(R"(["1","1","t")") << 4096 << DecodeError::NotJson << 1007;
    QTest::newRow("object, not array") << QByteArray(R"({"topic":"t"})") << 4096 << DecodeError::NotFrameArray << 1008;
    QTest::newRow("four elements") << QByteArray(R"(["1","1","t","e"])") << 4096 << DecodeError::NotFrameArray << 1008;
    QTest::newRow("six elements") << QByteArray(R"(["1","1","t","e",{},1])") << 4096 << DecodeError::NotFrameArray
                                  << 1008;
    QTest::newRow("empty array") << QByteArray("[]") << 4096 << DecodeError::NotFrameArray << 1008;
    QTest::newRow("numeric join_ref") << QByteArray(R"([1,"1","t","e",{}])") << 4096 << DecodeError::WrongElementType
                                      << 1008;
    QTest::newRow("numeric ref") << QByteArray(R"(["1",2,"t","e",{}])") << 4096 << DecodeError::WrongElementType
                                 << 1008;
    QTest::newRow("null topic") << QByteArray(R"(["1","1",null,"e",{}])") << 4096 << DecodeError::WrongElementType
                                << 1008;
    QTest::newRow("array event") << QByteArray(R"(["1","1","t",[],{}])") << 4096 << DecodeError::WrongElementType
                                 << 1008;
    QTest::newRow("string payload") << QByteArray(R"(["1","1","t","e","p"])") << 4096
                                    << DecodeError::WrongElementType << 1008;
    QTest::newRow("null payload") << QByteArray(R"(["1","1","t","e",null])") << 4096 << DecodeError::WrongElementType
                                  << 1008;
    QTest::newRow("one byte over the limit")
            << QByteArray(R"(["1","1","t","e",{}])") << int(QByteArray(R"(["1","1","t","e",{}])").size() - 1)
            << DecodeError::TooLarge << 1009;
}

void TestFrameCodec::rejectsMalformedFrames()
{
    QFETCH(QByteArray, input);
    QFETCH(int, maxBytes);
    QFETCH(DecodeError, error);
    QFETCH(int, closeCode);

    const DecodeResult result = decodeFrame(input, maxBytes);
    QVERIFY(!result.isValid());
    QCOMPARE(result.error, error);
    QCOMPARE(int(closeCodeFor(result.error)), closeCode);
    QVERIFY(!result.detail.isEmpty());
}

void TestFrameCodec::encodesRepliesWithTheRequestRefs()
{
    const DecodeResult request = decodeFrame(R"(["5","6","collective:lobby","phx_join",{}])", 4096);
    QVERIFY(request.isValid());

    QCOMPARE(encodeFrame(replyFrame(*request.frame, true)),
             QByteArray(R"(["5","6","collective:lobby","phx_reply",{"response":{},"status":"ok"}])"));
    QCOMPARE(encodeFrame(errorReplyFrame(*request.frame, QStringLiteral("unmatched topic"))),
             QByteArray(R"(["5","6","collective:lobby","phx_reply",{"response":{"reason":"unmatched topic"},"status":"error"}])"));
}

void TestFrameCodec::encodesBroadcastsWithNullRefs()
{
    const QJsonObject payload{{QStringLiteral("concurrent_connections"), 3}};
    QCOMPARE(encodeFrame(broadcastFrame(QStringLiteral("presence"), payload)),
             QByteArray(R"([null,null,"collective:lobby","presence",{"concurrent_connections":3}])"));
}

void TestFrameCodec::roundTripsThroughEncodeAndDecode()
{
    Frame frame;
    frame.joinRef = QStringLiteral("12");
    frame.topic = QStringLiteral("collective:lobby");
    frame.event = QStringLiteral("welcome");
    frame.payload = QJsonObject{{QStringLiteral("k"), QStringLiteral("v")}};

    const DecodeResult decoded = decodeFrame(encodeFrame(frame), 4096);
    QVERIFY(decoded.isValid());
    QCOMPARE(decoded.frame->joinRef, frame.joinRef);
    QVERIFY(!decoded.frame->ref.has_value());
    QCOMPARE(decoded.frame->topic, frame.topic);
    QCOMPARE(decoded.frame->event, frame.event);
    QCOMPARE(decoded.frame->payload, frame.payload);
}

QTEST_APPLESS_MAIN(TestFrameCodec)
#include "tst_framecodec.moc"
