// The lobby payloads: what the server encodes, the kiosk decodes to the
// same values, and a payload with a missing or mistyped field is rejected.
#include "protocol/messages.h"

#include <QJsonArray>
#include <QTest>

using namespace collective::protocol;

class TestMessages : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void welcomeRoundTrips();
    void welcomeFrameMatchesEncodeFrame_data();
    void welcomeFrameMatchesEncodeFrame();
    void tickRoundTrips();
    void presenceRoundTrips();
    void evolutionRoundTrips();
    void rejectsBadPayloads_data();
    void rejectsBadPayloads();
};

void TestMessages::welcomeRoundTrips()
{
    Welcome welcome;
    welcome.snapshot = {12, 40, 123456, {QStringLiteral("concurrent_1"), QStringLiteral("concurrent_10")}};
    welcome.milestones = Catalogue::builtin().milestones();
    welcome.tickIntervalMs = 5000;
    welcome.serverTime = QDateTime(QDate(2026, 12, 4), QTime(20, 19, 1, 123), Qt::UTC);

    const QJsonObject payload = encodeWelcome(welcome);
    QCOMPARE(payload.value(QLatin1String("server_time")).toString(), QStringLiteral("2026-12-04T20:19:01.123Z"));

    QString error;
    const auto decoded = decodeWelcome(payload, &error);
    QVERIFY2(decoded, qPrintable(error));
    QCOMPARE(decoded->snapshot.concurrentConnections, qint64(12));
    QCOMPARE(decoded->snapshot.peakConnections, qint64(40));
    QCOMPARE(decoded->snapshot.totalConnectionSeconds, qint64(123456));
    QCOMPARE(decoded->snapshot.unlockedMilestones, welcome.snapshot.unlockedMilestones);
    QCOMPARE(decoded->milestones.size(), welcome.milestones.size());
    QCOMPARE(decoded->milestones.first().id, QStringLiteral("concurrent_1"));
    QCOMPARE(decoded->tickIntervalMs, 5000);
    QCOMPARE(decoded->serverTime, welcome.serverTime);
}

void TestMessages::welcomeFrameMatchesEncodeFrame_data()
{
    QTest::addColumn<QString>("joinRef");
    QTest::newRow("plain ref") << QStringLiteral("1");
    // A client-chosen ref that spells the marker the splice looks for.
    QTest::newRow("ref spelling the marker") << QStringLiteral("\"milestones\":[]");
    QTest::newRow("non-ASCII ref") << QStringLiteral("t\u00e9moin");
}

void TestMessages::welcomeFrameMatchesEncodeFrame()
{
    QFETCH(QString, joinRef);
    Welcome welcome;
    welcome.snapshot = {3, 7, 99, {QStringLiteral("concurrent_1")}};
    welcome.milestones = Catalogue::builtin().milestones();
    welcome.tickIntervalMs = 1000;
    welcome.serverTime = QDateTime(QDate(2026, 12, 5), QTime(3, 4, 5, 6), Qt::UTC);

    Frame push;
    push.joinRef = joinRef;
    push.topic = QStringLiteral("collective:lobby");
    push.event = QStringLiteral("welcome");

    Frame whole = push;
    whole.payload = encodeWelcome(welcome);
    const QByteArray expected = encodeFrame(whole);
    const QByteArray spliced = encodeWelcomeFrame(push, welcome, encodeCatalogue(welcome.milestones));
    QCOMPARE(spliced, expected);
}

void TestMessages::tickRoundTrips()
{
    const Tick tick{3, 9, 77, 42};
    QString error;
    const auto decoded = decodeTick(encodeTick(tick), &error);
    QVERIFY2(decoded, qPrintable(error));
    QCOMPARE(decoded->concurrentConnections, qint64(3));
    QCOMPARE(decoded->peakConnections, qint64(9));
    QCOMPARE(decoded->totalConnectionSeconds, qint64(77));
    QCOMPARE(decoded->tick, qint64(42));
}

void TestMessages::presenceRoundTrips()
{
    QString error;
    const auto decoded = decodePresence(encodePresence({2, 5}), &error);
    QVERIFY2(decoded, qPrintable(error));
    QCOMPARE(decoded->concurrentConnections, qint64(2));
    QCOMPARE(decoded->peakConnections, qint64(5));
}

void TestMessages::evolutionRoundTrips()
{
    Evolution evolution{QStringLiteral("time_1h"), QStringLiteral("First Hour"), QStringLiteral("One hour."),
                        MilestoneKind::Time, QDateTime(QDate(2026, 1, 2), QTime(3, 4, 5), Qt::UTC)};
    QString error;
    const auto decoded = decodeEvolution(encodeEvolution(evolution), &error);
    QVERIFY2(decoded, qPrintable(error));
    QCOMPARE(decoded->id, evolution.id);
    QCOMPARE(decoded->name, evolution.name);
    QCOMPARE(decoded->kind, MilestoneKind::Time);
    QCOMPARE(decoded->unlockedAt, evolution.unlockedAt);
}

void TestMessages::rejectsBadPayloads_data()
{
    QTest::addColumn<QString>("event");
    QTest::addColumn<QJsonObject>("payload");
    QTest::addColumn<QString>("field");

    QJsonObject tick = encodeTick({1, 1, 1, 1});
    QJsonObject noTotal = tick;
    noTotal.remove(QLatin1String("total_connection_seconds"));
    QTest::newRow("tick without total") << "tick" << noTotal << "total_connection_seconds";

    QJsonObject negative = tick;
    negative.insert(QLatin1String("concurrent_connections"), -1);
    QTest::newRow("tick with a negative count") << "tick" << negative << "concurrent_connections";

    QJsonObject fractional = tick;
    fractional.insert(QLatin1String("tick"), 1.5);
    QTest::newRow("tick with a fractional number") << "tick" << fractional << "tick";

    QJsonObject textCount = encodePresence({1, 1});
    textCount.insert(QLatin1String("peak_connections"), QStringLiteral("1"));
    QTest::newRow("presence with a text count") << "presence" << textCount << "peak_connections";

    QJsonObject badKind = encodeEvolution({QStringLiteral("a"), QStringLiteral("n"), QStringLiteral("d"),
                                           MilestoneKind::Time, QDateTime::currentDateTimeUtc()});
    badKind.insert(QLatin1String("kind"), QStringLiteral("mood"));
    QTest::newRow("evolution with an unknown kind") << "evolution" << badKind << "kind";

    QJsonObject badTime = badKind;
    badTime.insert(QLatin1String("kind"), QStringLiteral("time"));
    badTime.insert(QLatin1String("unlocked_at"), QStringLiteral("yesterday"));
    QTest::newRow("evolution with a bad time") << "evolution" << badTime << "unlocked_at";

    Welcome welcome;
    welcome.serverTime = QDateTime::currentDateTimeUtc();
    QJsonObject badUnlocked = encodeWelcome(welcome);
    badUnlocked.insert(QLatin1String("unlocked_milestones"), QJsonArray{1});
    QTest::newRow("welcome with a numeric id") << "welcome" << badUnlocked << "unlocked_milestones";
}

void TestMessages::rejectsBadPayloads()
{
    QFETCH(QString, event);
    QFETCH(QJsonObject, payload);
    QFETCH(QString, field);

    QString error;
    bool decoded = true;
    if (event == QLatin1String("tick"))
        decoded = decodeTick(payload, &error).has_value();
    else if (event == QLatin1String("presence"))
        decoded = decodePresence(payload, &error).has_value();
    else if (event == QLatin1String("evolution"))
        decoded = decodeEvolution(payload, &error).has_value();
    else
        decoded = decodeWelcome(payload, &error).has_value();

    QVERIFY(!decoded);
    QVERIFY2(error.contains(field), qPrintable(error));
}

QTEST_APPLESS_MAIN(TestMessages)
#include "tst_messages.moc"
