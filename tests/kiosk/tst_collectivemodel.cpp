// CollectiveModel: every lobby event lands in the model field by field, built
// both with the protocol library's encoders and as hand-written JSON. A
// payload that breaks the schema is logged and ignored.
#include "collectivemodel.h"

#include "protocol/catalogue.h"
#include "protocol/messages.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QTest>

using namespace collective::witness;
namespace pr = collective::protocol;

namespace {

QJsonObject parseObject(const char *json)
{
    QJsonParseError error;
    const QJsonDocument document = QJsonDocument::fromJson(QByteArray(json), &error);
    if (error.error != QJsonParseError::NoError || !document.isObject())
        qFatal("test JSON does not parse: %s", qPrintable(error.errorString()));
    return document.object();
}

pr::Welcome sampleWelcome()
{
    pr::Welcome welcome;
    welcome.snapshot.concurrentConnections = 3;
    welcome.snapshot.peakConnections = 7;
    welcome.snapshot.totalConnectionSeconds = 3 * 86400 + 4 * 3600;
    welcome.snapshot.unlockedMilestones = {QStringLiteral("concurrent_1"), QStringLiteral("time_1m")};
    welcome.milestones = pr::Catalogue::builtin().milestones();
    welcome.tickIntervalMs = 5000;
    welcome.serverTime = QDateTime(QDate(2026, 12, 4), QTime(20, 19, 1, 123), Qt::UTC);
    return welcome;
}

// A joined model that has applied sampleWelcome().
void prime(CollectiveModel &model)
{
    model.setConnectionState(CollectiveModel::ConnectionState::Joined);
    QVERIFY(model.applyLobbyEvent(QStringLiteral("welcome"), pr::encodeWelcome(sampleWelcome())));
}

QString nameAt(const CollectiveModel &model, int index)
{
    return model.unlockedMilestones().at(index).toMap().value(QStringLiteral("name")).toString();
}

} // namespace

class TestCollectiveModel : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void startsConnectingWithoutSnapshot();
    void welcomeFromEncoderFillsEveryField();
    void welcomeFromJsonUsesServerCatalogue();
    void welcomeReplacesEarlierState();
    void tickUpdatesFigures_data();
    void tickUpdatesFigures();
    void unchangedTickEmitsNothing();
    void presenceUpdatesCounts_data();
    void presenceUpdatesCounts();
    void evolutionUnlocksAndAnnounces_data();
    void evolutionUnlocksAndAnnounces();
    void repeatedEvolutionIsAnnouncedOnce();
    void unknownMilestoneShowsItsId();
    void malformedPayloadIsIgnored_data();
    void malformedPayloadIsIgnored();
    void unknownEventIsSkipped();
    void connectionStateReachesJson();
};

void TestCollectiveModel::startsConnectingWithoutSnapshot()
{
    CollectiveModel model;
    QCOMPARE(model.connectionState(), CollectiveModel::ConnectionState::Connecting);
    QVERIFY(!model.isJoined());
    QVERIFY(!model.hasSnapshot());
    QCOMPARE(model.concurrentConnections(), 0);
    QVERIFY(model.unlockedMilestones().isEmpty());
    QCOMPARE(model.milestoneCount(), pr::Catalogue::builtin().milestones().size());
}

void TestCollectiveModel::welcomeFromEncoderFillsEveryField()
{
    CollectiveModel model;
    QSignalSpy snapshotSpy(&model, &CollectiveModel::snapshotChanged);
    QSignalSpy milestonesSpy(&model, &CollectiveModel::milestonesChanged);
    QSignalSpy evolvedSpy(&model, &CollectiveModel::evolved);

    QVERIFY(model.applyLobbyEvent(QStringLiteral("welcome"), pr::encodeWelcome(sampleWelcome())));

    QVERIFY(model.hasSnapshot());
    QCOMPARE(model.concurrentConnections(), 3);
    QCOMPARE(model.peakConnections(), 7);
    QCOMPARE(model.totalConnectionSeconds(), 3 * 86400 + 4 * 3600);
    QCOMPARE(model.tickIntervalMs(), 5000);
    QCOMPARE(model.unlockedMilestoneIds(), QStringList({QStringLiteral("concurrent_1"), QStringLiteral("time_1m")}));
    QCOMPARE(model.milestoneCount(), 16);

    const QVariantMap first = model.unlockedMilestones().at(0).toMap();
    QCOMPARE(first.value(QStringLiteral("id")).toString(), QStringLiteral("concurrent_1"));
    QCOMPARE(first.value(QStringLiteral("name")).toString(), QStringLiteral("First Light"));
    QCOMPARE(first.value(QStringLiteral("description")).toString(), QStringLiteral("A single witness opened their eyes."));
    QCOMPARE(first.value(QStringLiteral("kind")).toString(), QStringLiteral("concurrent"));
    QCOMPARE(nameAt(model, 1), QStringLiteral("First Minute"));

    QCOMPARE(snapshotSpy.count(), 1);
    QCOMPARE(milestonesSpy.count(), 1);
    // Milestones in a welcome unlocked before the kiosk joined: no announcement.
    QCOMPARE(evolvedSpy.count(), 0);
}

void TestCollectiveModel::welcomeFromJsonUsesServerCatalogue()
{
    CollectiveModel model;
    const QJsonObject payload = parseObject(R"({
        "concurrent_connections": 1234567,
        "peak_connections": 2000000,
        "total_connection_seconds": 59,
        "unlocked_milestones": ["custom_one"],
        "milestones": [
            {"id": "custom_one", "name": "Custom One", "description": "A milestone only this server knows.",
             "kind": "compound", "threshold": 5}
        ],
        "tick_interval_ms": 500,
        "server_time": "2026-12-04T20:19:01.123Z"
    })");

    QVERIFY(model.applyLobbyEvent(QStringLiteral("welcome"), payload));

    QCOMPARE(model.concurrentConnections(), 1234567);
    QCOMPARE(model.peakConnections(), 2000000);
    QCOMPARE(model.totalConnectionSeconds(), 59);
    QCOMPARE(model.tickIntervalMs(), 500);
    QCOMPARE(model.milestoneCount(), 1);
    QCOMPARE(nameAt(model, 0), QStringLiteral("Custom One"));
    QCOMPARE(model.unlockedMilestones().at(0).toMap().value(QStringLiteral("kind")).toString(), QStringLiteral("compound"));
}

void TestCollectiveModel::welcomeReplacesEarlierState()
{
    // After a reconnect the welcome is the whole truth, even when a reset
    // store reports less than before.
    CollectiveModel model;
    prime(model);
    pr::Welcome smaller;
    smaller.snapshot.concurrentConnections = 1;
    smaller.snapshot.peakConnections = 1;
    smaller.snapshot.totalConnectionSeconds = 10;
    smaller.serverTime = QDateTime::currentDateTimeUtc();

    QVERIFY(model.applyLobbyEvent(QStringLiteral("welcome"), pr::encodeWelcome(smaller)));

    QCOMPARE(model.concurrentConnections(), 1);
    QCOMPARE(model.peakConnections(), 1);
    QCOMPARE(model.totalConnectionSeconds(), 10);
    QVERIFY(model.unlockedMilestoneIds().isEmpty());
    // An empty catalogue in the welcome keeps the one the model had.
    QCOMPARE(model.milestoneCount(), 16);
}

void TestCollectiveModel::tickUpdatesFigures_data()
{
    QTest::addColumn<QJsonObject>("payload");

    pr::Tick tick;
    tick.concurrentConnections = 12;
    tick.peakConnections = 40;
    tick.totalConnectionSeconds = 3600;
    tick.tick = 77;
    QTest::newRow("encoder") << pr::encodeTick(tick);
    QTest::newRow("hand-written") << parseObject(
        R"({"concurrent_connections": 12, "peak_connections": 40, "total_connection_seconds": 3600, "tick": 77})");
}

void TestCollectiveModel::tickUpdatesFigures()
{
    QFETCH(QJsonObject, payload);
    CollectiveModel model;
    prime(model);
    QSignalSpy snapshotSpy(&model, &CollectiveModel::snapshotChanged);
    QSignalSpy stateSpy(&model, &CollectiveModel::stateChanged);

    QVERIFY(model.applyLobbyEvent(QStringLiteral("tick"), payload));

    QCOMPARE(model.concurrentConnections(), 12);
    QCOMPARE(model.peakConnections(), 40);
    QCOMPARE(model.totalConnectionSeconds(), 3600);
    QCOMPARE(model.lastTick(), 77);
    QCOMPARE(snapshotSpy.count(), 1);
    QCOMPARE(stateSpy.count(), 1);
}

void TestCollectiveModel::unchangedTickEmitsNothing()
{
    // An idle Collective (no witnesses) ticks with the same figures; the
    // scene and the state file must not wake up for it.
    CollectiveModel model;
    prime(model);
    pr::Tick tick{3, 7, 3 * 86400 + 4 * 3600, 1};
    QSignalSpy stateSpy(&model, &CollectiveModel::stateChanged);

    QVERIFY(model.applyLobbyEvent(QStringLiteral("tick"), pr::encodeTick(tick)));

    QCOMPARE(stateSpy.count(), 0);
    QCOMPARE(model.lastTick(), 1);
}

void TestCollectiveModel::presenceUpdatesCounts_data()
{
    QTest::addColumn<QJsonObject>("payload");

    QTest::newRow("encoder") << pr::encodePresence(pr::Presence{2, 9});
    QTest::newRow("hand-written") << parseObject(R"({"concurrent_connections": 2, "peak_connections": 9})");
}

void TestCollectiveModel::presenceUpdatesCounts()
{
    QFETCH(QJsonObject, payload);
    CollectiveModel model;
    prime(model);

    QVERIFY(model.applyLobbyEvent(QStringLiteral("presence"), payload));

    QCOMPARE(model.concurrentConnections(), 2);
    QCOMPARE(model.peakConnections(), 9);
    // Presence carries no total; the one from the welcome stays.
    QCOMPARE(model.totalConnectionSeconds(), 3 * 86400 + 4 * 3600);
}

void TestCollectiveModel::evolutionUnlocksAndAnnounces_data()
{
    QTest::addColumn<QJsonObject>("payload");

    pr::Evolution evolution;
    evolution.id = QStringLiteral("concurrent_10");
    evolution.name = QStringLiteral("A Small Circle");
    evolution.description = QStringLiteral("Ten witnesses watched at the same moment.");
    evolution.kind = pr::MilestoneKind::Concurrent;
    evolution.unlockedAt = QDateTime(QDate(2026, 12, 4), QTime(20, 30, 0, 500), Qt::UTC);
    QTest::newRow("encoder") << pr::encodeEvolution(evolution);
    QTest::newRow("hand-written") << parseObject(R"({"id": "concurrent_10", "name": "A Small Circle",
        "description": "Ten witnesses watched at the same moment.", "kind": "concurrent",
        "unlocked_at": "2026-12-04T20:30:00.500Z"})");
}

void TestCollectiveModel::evolutionUnlocksAndAnnounces()
{
    QFETCH(QJsonObject, payload);
    CollectiveModel model;
    prime(model);
    QSignalSpy evolvedSpy(&model, &CollectiveModel::evolved);
    QSignalSpy milestonesSpy(&model, &CollectiveModel::milestonesChanged);

    QVERIFY(model.applyLobbyEvent(QStringLiteral("evolution"), payload));

    QCOMPARE(model.unlockedMilestoneIds().last(), QStringLiteral("concurrent_10"));
    QCOMPARE(nameAt(model, 2), QStringLiteral("A Small Circle"));
    QCOMPARE(milestonesSpy.count(), 1);
    QCOMPARE(evolvedSpy.count(), 1);

    const QVariantMap announced = evolvedSpy.first().first().toMap();
    QCOMPARE(announced, model.lastEvolution());
    QCOMPARE(announced.value(QStringLiteral("id")).toString(), QStringLiteral("concurrent_10"));
    QCOMPARE(announced.value(QStringLiteral("name")).toString(), QStringLiteral("A Small Circle"));
    QCOMPARE(announced.value(QStringLiteral("description")).toString(),
             QStringLiteral("Ten witnesses watched at the same moment."));
    QCOMPARE(announced.value(QStringLiteral("kind")).toString(), QStringLiteral("concurrent"));
    QCOMPARE(announced.value(QStringLiteral("unlockedAt")).toDateTime(),
             QDateTime(QDate(2026, 12, 4), QTime(20, 30, 0, 500), Qt::UTC));
}

void TestCollectiveModel::repeatedEvolutionIsAnnouncedOnce()
{
    // concurrent_1 is already in the welcome: a kiosk that joined between
    // the unlock and its broadcast must not celebrate it again.
    CollectiveModel model;
    prime(model);
    QSignalSpy evolvedSpy(&model, &CollectiveModel::evolved);
    const QJsonObject payload = parseObject(R"({"id": "concurrent_1", "name": "First Light",
        "description": "A single witness opened their eyes.", "kind": "concurrent",
        "unlocked_at": "2026-12-04T20:30:00.000Z"})");

    QVERIFY(model.applyLobbyEvent(QStringLiteral("evolution"), payload));

    QCOMPARE(evolvedSpy.count(), 0);
    QCOMPARE(model.unlockedMilestoneIds().count(QStringLiteral("concurrent_1")), 1);
}

void TestCollectiveModel::unknownMilestoneShowsItsId()
{
    CollectiveModel model;
    const QJsonObject payload = parseObject(R"({"concurrent_connections": 0, "peak_connections": 0,
        "total_connection_seconds": 0, "unlocked_milestones": ["from_the_future"], "milestones": [],
        "tick_interval_ms": 5000, "server_time": "2026-12-04T20:19:01.000Z"})");

    QVERIFY(model.applyLobbyEvent(QStringLiteral("welcome"), payload));

    QCOMPARE(nameAt(model, 0), QStringLiteral("from_the_future"));
}

void TestCollectiveModel::malformedPayloadIsIgnored_data()
{
    QTest::addColumn<QString>("event");
    QTest::addColumn<QJsonObject>("payload");
    QTest::addColumn<QString>("field");

    QTest::newRow("tick without tick number") << QStringLiteral("tick")
        << parseObject(R"({"concurrent_connections": 1, "peak_connections": 1, "total_connection_seconds": 1})")
        << QStringLiteral("tick");
    QTest::newRow("tick with a negative count") << QStringLiteral("tick")
        << parseObject(R"({"concurrent_connections": -4, "peak_connections": 1, "total_connection_seconds": 1, "tick": 1})")
        << QStringLiteral("concurrent_connections");
    QTest::newRow("presence with a string count") << QStringLiteral("presence")
        << parseObject(R"({"concurrent_connections": "5", "peak_connections": 5})")
        << QStringLiteral("concurrent_connections");
    QTest::newRow("presence with a fractional peak") << QStringLiteral("presence")
        << parseObject(R"({"concurrent_connections": 5, "peak_connections": 5.5})")
        << QStringLiteral("peak_connections");
    QTest::newRow("welcome with unlocked not an array") << QStringLiteral("welcome")
        << parseObject(R"({"concurrent_connections": 1, "peak_connections": 1, "total_connection_seconds": 1,
            "unlocked_milestones": "concurrent_1", "milestones": [], "tick_interval_ms": 5000,
            "server_time": "2026-12-04T20:19:01.000Z"})")
        << QStringLiteral("unlocked_milestones");
    QTest::newRow("welcome without server time") << QStringLiteral("welcome")
        << parseObject(R"({"concurrent_connections": 1, "peak_connections": 1, "total_connection_seconds": 1,
            "unlocked_milestones": [], "milestones": [], "tick_interval_ms": 5000})")
        << QStringLiteral("server_time");
    QTest::newRow("evolution with an unknown kind") << QStringLiteral("evolution")
        << parseObject(R"({"id": "x", "name": "X", "description": "d", "kind": "magic",
            "unlocked_at": "2026-12-04T20:19:01.000Z"})")
        << QStringLiteral("kind");
    QTest::newRow("evolution without a name") << QStringLiteral("evolution")
        << parseObject(R"({"id": "x", "description": "d", "kind": "time", "unlocked_at": "2026-12-04T20:19:01.000Z"})")
        << QStringLiteral("name");
    QTest::newRow("empty tick") << QStringLiteral("tick") << QJsonObject() << QStringLiteral("concurrent_connections");
}

void TestCollectiveModel::malformedPayloadIsIgnored()
{
    QFETCH(QString, event);
    QFETCH(QJsonObject, payload);
    QFETCH(QString, field);
    CollectiveModel model;
    prime(model);
    const QJsonObject before = model.toJson();
    QSignalSpy stateSpy(&model, &CollectiveModel::stateChanged);
    QSignalSpy evolvedSpy(&model, &CollectiveModel::evolved);

    QTest::ignoreMessage(QtWarningMsg,
                         QRegularExpression(QStringLiteral("^Ignored a '%1' message from the server: field '%2' .*"
                                                           "The kiosk keeps its last state\\.$")
                                                .arg(event, field)));
    QVERIFY(!model.applyLobbyEvent(event, payload));

    QCOMPARE(model.toJson(), before);
    QCOMPARE(stateSpy.count(), 0);
    QCOMPARE(evolvedSpy.count(), 0);
}

void TestCollectiveModel::unknownEventIsSkipped()
{
    CollectiveModel model;
    prime(model);
    const QJsonObject before = model.toJson();

    QVERIFY(!model.applyLobbyEvent(QStringLiteral("weather"), parseObject(R"({"rain": true})")));

    QCOMPARE(model.toJson(), before);
}

void TestCollectiveModel::connectionStateReachesJson()
{
    CollectiveModel model;
    prime(model);
    QSignalSpy connectionSpy(&model, &CollectiveModel::connectionStateChanged);

    model.setConnectionState(CollectiveModel::ConnectionState::Waiting);
    model.setConnectionState(CollectiveModel::ConnectionState::Waiting);

    QCOMPARE(connectionSpy.count(), 1);
    QVERIFY(!model.isJoined());
    const QJsonObject json = model.toJson();
    QCOMPARE(json.value(QLatin1String("connection")).toString(), QStringLiteral("waiting"));
    QCOMPARE(json.value(QLatin1String("concurrent")).toInteger(), 3);
    QCOMPARE(json.value(QLatin1String("peak")).toInteger(), 7);
    QCOMPARE(json.value(QLatin1String("total_seconds")).toInteger(), 3 * 86400 + 4 * 3600);
    QCOMPARE(json.value(QLatin1String("unlocked")).toArray().size(), 2);
}

QTEST_GUILESS_MAIN(TestCollectiveModel)
#include "tst_collectivemodel.moc"
