// The Redis store beyond the common contract: several nodes share one
// count, a node that dies stops counting, the seed's keys hold the state,
// and seconds owed during an outage are flushed once when Redis returns.
#include "store/redis/redisstore.h"
#include "redisserver.h"

#include <QSignalSpy>
#include <QTest>

#include <memory>

using namespace collective;
using collective::testing::RedisServer;

namespace {

std::unique_ptr<RedisStore> openRedisStore(RedisServer &redis, int tickIntervalMs)
{
    auto store = std::make_unique<RedisStore>(redis.endpoint(), tickIntervalMs);
    QSignalSpy opened(store.get(), &StateStore::opened);
    store->open();
    if (!QTest::qWaitFor([&] { return !opened.isEmpty(); }, 5000))
        qFatal("The Redis store did not open within 5 s.");
    return store;
}

// Sends a report and returns the answer to it (not a refresh's).
ReportResult reportAndWait(RedisStore &store, NodeReport report, int timeoutMs = 5000)
{
    static quint64 lastId = 0;
    report.id = ++lastId;
    std::optional<ReportResult> answer;
    QMetaObject::Connection connection =
            QObject::connect(&store, &StateStore::reportApplied, [&](const ReportResult &result) {
                if (result.reportId == report.id)
                    answer = result;
            });
    store.report(report);
    const bool answered = QTest::qWaitFor([&] { return answer.has_value(); }, timeoutMs);
    QObject::disconnect(connection);
    if (!answered)
        qFatal("The Redis store did not answer report %llu.", report.id);
    return *answer;
}

} // namespace

class TestRedisStore : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();
    void cleanup();
    void cleanupTestCase();

    void nodesSumTheirCounts();
    void killedNodeStopsCounting();
    void keysAreTheSeedsKeys();
    void hungRedisKeepsOwedSecondsUntilItReturns();

private:
    RedisServer m_redis;
};

void TestRedisStore::initTestCase()
{
    QString error;
    QVERIFY2(m_redis.start(&error), qPrintable(error));
}

void TestRedisStore::init()
{
    m_redis.cli({QStringLiteral("FLUSHALL")});
}

void TestRedisStore::cleanup()
{
    // A test that failed while Redis was frozen must not leave it frozen.
    m_redis.resume();
}

void TestRedisStore::cleanupTestCase()
{
    m_redis.stop();
}

void TestRedisStore::nodesSumTheirCounts()
{
    auto first = openRedisStore(m_redis, 60000);
    auto second = openRedisStore(m_redis, 60000);

    reportAndWait(*first, NodeReport{0, 3, {}});
    const ReportResult fromSecond = reportAndWait(*second, NodeReport{0, 4, {}});
    QCOMPARE(fromSecond.state.concurrentConnections, qint64(7));
    QCOMPARE(fromSecond.reportedLive, qint64(4));

    const ReportResult fromFirst = reportAndWait(*first, NodeReport{0, 2, {}});
    QCOMPARE(fromFirst.state.concurrentConnections, qint64(6));
    QCOMPARE(fromFirst.state.peakConnections, qint64(7));
}

void TestRedisStore::killedNodeStopsCounting()
{
    // 200 ms ticks: node keys live 300 ms and are refreshed every 100 ms.
    auto survivor = openRedisStore(m_redis, 200);
    auto doomed = openRedisStore(m_redis, 200);
    // A node refreshes its key every 100 ms here, so a report may meet a
    // refresh in flight and be answered with an estimate; its count then
    // reaches Redis with the next batch, a round trip later.
    reportAndWait(*survivor, NodeReport{0, 2, {}});
    QTRY_COMPARE_WITH_TIMEOUT(reportAndWait(*doomed, NodeReport{0, 5, {}}).state.concurrentConnections, qint64(7),
                              2000);

    // Gone without a final report, as after SIGKILL.
    qint64 lastSeen = -1;
    connect(survivor.get(), &StateStore::reportApplied, this,
            [&](const ReportResult &result) { lastSeen = result.state.concurrentConnections; });
    QElapsedTimer sinceKill;
    sinceKill.start();
    doomed.reset();

    QTRY_COMPARE_WITH_TIMEOUT(lastSeen, qint64(2), 2000);
    QVERIFY2(sinceKill.elapsed() <= 2 * 200 + 200,
             qPrintable(QStringLiteral("took %1 ms, more than two ticks").arg(sinceKill.elapsed())));
    QCOMPARE(m_redis.cli({QStringLiteral("GET"), QStringLiteral("global:concurrent_connections")}).trimmed(),
             QByteArray("2"));
}

void TestRedisStore::keysAreTheSeedsKeys()
{
    auto store = openRedisStore(m_redis, 60000);
    reportAndWait(*store, NodeReport{0, 4, {}, 9});
    reportAndWait(*store, NodeReport{12, 3, {QStringLiteral("concurrent_1")}});

    auto get = [this](const char *key) {
        return m_redis.cli({QStringLiteral("GET"), QString::fromLatin1(key)}).trimmed();
    };
    QCOMPARE(get("global:concurrent_connections"), QByteArray("3"));
    QCOMPARE(get("global:total_connection_seconds"), QByteArray("12"));
    QCOMPARE(get("global:peak_connections"), QByteArray("9"));
    QCOMPARE(m_redis.cli({QStringLiteral("TYPE"), QStringLiteral("global:unlocked_milestones")}).trimmed(),
             QByteArray("set"));
    QCOMPARE(m_redis.cli({QStringLiteral("SMEMBERS"), QStringLiteral("global:unlocked_milestones")}).trimmed(),
             QByteArray("concurrent_1"));
}

void TestRedisStore::hungRedisKeepsOwedSecondsUntilItReturns()
{
    // 500 ms ticks: the watchdog gives up on a reply after 2 s.
    auto store = openRedisStore(m_redis, 500);
    reportAndWait(*store, NodeReport{10, 1, {}});
    QSignalSpy readiness(store.get(), &StateStore::readinessChanged);

    // Redis freezes with a report on the wire: the store must not wait for it.
    QVERIFY2(m_redis.pause(), "redis-server did not stop on SIGSTOP");
    const ReportResult during = reportAndWait(*store, NodeReport{3, 1, {}}, 1000);
    QCOMPARE(during.state.totalConnectionSeconds, qint64(13)); // its own estimate
    QTRY_VERIFY_WITH_TIMEOUT(!store->isReady(), 8000);
    QVERIFY(store->notReadyReason().contains(QLatin1String("unreachable")));
    QCOMPARE(reportAndWait(*store, NodeReport{4, 1, {}}, 1000).state.totalConnectionSeconds, qint64(17));

    // When Redis thaws it may still run the frozen report; the resent copy
    // carries the same sequence and is skipped, so nothing counts twice.
    QVERIFY2(m_redis.resume(), "redis-server did not continue on SIGCONT");
    QTRY_VERIFY_WITH_TIMEOUT(store->isReady(), 8000);
    QTRY_COMPARE_WITH_TIMEOUT(
            m_redis.cli({QStringLiteral("GET"), QStringLiteral("global:total_connection_seconds")}).trimmed(),
            QByteArray("17"), 5000);
    QCOMPARE(reportAndWait(*store, NodeReport{0, 1, {}}).state.totalConnectionSeconds, qint64(17));
}

QTEST_GUILESS_MAIN(TestRedisStore)
#include "tst_redisstore.moc"
