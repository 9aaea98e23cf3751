// The state store contract, run against every backend: the embedded store
// and the Redis store on a real redis-server and on a real Redis Cluster.
#include "store/embeddedstore.h"
#include "store/redis/redisstore.h"
#include "redisserver.h"

#include <QProcess>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <memory>

using namespace collective;
using collective::testing::RedisServer;
using collective::testing::RedisCluster;

namespace {

// Makes stores of one backend, sharing state between instances so a test
// can restart a store.
class StoreFactory
{
public:
    virtual ~StoreFactory() = default;
    virtual std::unique_ptr<StateStore> make() = 0;
};

class EmbeddedFactory final : public StoreFactory
{
public:
    std::unique_ptr<StateStore> make() override { return std::make_unique<EmbeddedStore>(m_dir.path()); }
    QString path() const { return m_dir.path(); }

private:
    QTemporaryDir m_dir;
};

class RedisFactory final : public StoreFactory
{
public:
    // A long tick keeps the store's own half-tick refresh out of the way of
    // the test's reports.
    explicit RedisFactory(RedisServer *server, int tickIntervalMs = 60000)
        : m_server(server), m_tickIntervalMs(tickIntervalMs)
    {
        m_server->cli({QStringLiteral("FLUSHALL")});
    }
    std::unique_ptr<StateStore> make() override
    {
        return std::make_unique<RedisStore>(m_server->endpoint(), m_tickIntervalMs);
    }

private:
    RedisServer *m_server;
    int m_tickIntervalMs;
};

class RedisClusterFactory final : public StoreFactory
{
public:
    explicit RedisClusterFactory(RedisCluster *cluster) : m_cluster(cluster) { m_cluster->flushAll(); }
    std::unique_ptr<StateStore> make() override { return std::make_unique<RedisStore>(m_cluster->seeds(), 60000); }

private:
    RedisCluster *m_cluster;
};

GlobalState openStore(StateStore &store)
{
    QSignalSpy opened(&store, &StateStore::opened);
    QSignalSpy failed(&store, &StateStore::openFailed);
    store.open();
    if (!QTest::qWaitFor([&] { return !opened.isEmpty() || !failed.isEmpty(); }, 5000))
        qFatal("The store neither opened nor failed within 5 s.");
    if (!failed.isEmpty())
        qFatal("The store failed to open: %s", qPrintable(failed.at(0).at(0).toString()));
    return opened.at(0).at(0).value<GlobalState>();
}

ReportResult report(StateStore &store, qint64 seconds, qint64 live, const QStringList &claims = {})
{
    QSignalSpy applied(&store, &StateStore::reportApplied);
    store.report(NodeReport{seconds, live, claims});
    if (!QTest::qWaitFor([&] { return !applied.isEmpty(); }, 5000))
        qFatal("The store did not answer a report within 5 s.");
    return applied.at(0).at(0).value<ReportResult>();
}

} // namespace

class TestStateStore : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase_data();
    void init();
    void cleanup();

    // The contract every backend keeps.
    void newStoreStartsAtZero();
    void reportAddsSecondsAndSetsConcurrent();
    void peakIsMonotone();
    void peakSeenBetweenReportsIsKept();
    void claimIsWonOnce();
    void restartResumesTheSameCollective();
    void readyAfterOpen();

    void cleanupTestCase();

private:
    std::unique_ptr<StoreFactory> m_factory;
    RedisServer m_redis;
    bool m_redisStarted = false;
    RedisCluster m_cluster;
    bool m_clusterStarted = false;
};

void TestStateStore::cleanupTestCase()
{
    if (m_redisStarted)
        m_redis.stop();
    if (m_clusterStarted)
        m_cluster.stop();
}

void TestStateStore::initTestCase_data()
{
    QTest::addColumn<QString>("backend");
    QTest::newRow("embedded") << QStringLiteral("embedded");
    QTest::newRow("redis") << QStringLiteral("redis");
    QTest::newRow("redis-cluster") << QStringLiteral("redis-cluster");
}

void TestStateStore::init()
{
    QFETCH_GLOBAL(QString, backend);
    if (backend == QLatin1String("embedded")) {
        m_factory = std::make_unique<EmbeddedFactory>();
    } else if (backend == QLatin1String("redis")) {
        // Started once, at the first Redis row; a missing redis-server fails
        // the suite rather than skipping it.
        if (!m_redisStarted) {
            QString error;
            QVERIFY2(m_redis.start(&error), qPrintable(error));
            m_redisStarted = true;
        }
        m_factory = std::make_unique<RedisFactory>(&m_redis);
    } else if (backend == QLatin1String("redis-cluster")) {
        if (!m_clusterStarted) {
            QString error;
            QVERIFY2(m_cluster.start(&error), qPrintable(error));
            m_clusterStarted = true;
        }
        m_factory = std::make_unique<RedisClusterFactory>(&m_cluster);
    }
    QVERIFY(m_factory);
}

void TestStateStore::cleanup()
{
    m_factory.reset();
}

void TestStateStore::newStoreStartsAtZero()
{
    auto store = m_factory->make();
    const GlobalState state = openStore(*store);
    QCOMPARE(state.concurrentConnections, qint64(0));
    QCOMPARE(state.peakConnections, qint64(0));
    QCOMPARE(state.totalConnectionSeconds, qint64(0));
    QVERIFY(state.unlockedMilestones.isEmpty());
}

void TestStateStore::reportAddsSecondsAndSetsConcurrent()
{
    auto store = m_factory->make();
    openStore(*store);
    report(*store, 10, 2);
    const ReportResult result = report(*store, 5, 3);
    QCOMPARE(result.state.totalConnectionSeconds, qint64(15));
    QCOMPARE(result.state.concurrentConnections, qint64(3));
    QCOMPARE(result.state.peakConnections, qint64(3));
}

void TestStateStore::peakIsMonotone()
{
    auto store = m_factory->make();
    openStore(*store);
    report(*store, 0, 7);
    const ReportResult lower = report(*store, 0, 2);
    QCOMPARE(lower.state.concurrentConnections, qint64(2));
    QCOMPARE(lower.state.peakConnections, qint64(7));
}

void TestStateStore::peakSeenBetweenReportsIsKept()
{
    // Nine witnesses came and went between two reports.
    auto store = m_factory->make();
    openStore(*store);
    report(*store, 0, 2);
    QSignalSpy applied(store.get(), &StateStore::reportApplied);
    store->report(NodeReport{0, 1, {}, 9});
    QTRY_COMPARE(applied.size(), 1);
    const auto result = applied.at(0).at(0).value<ReportResult>();
    QCOMPARE(result.state.concurrentConnections, qint64(1));
    QCOMPARE(result.state.peakConnections, qint64(9));
}

void TestStateStore::claimIsWonOnce()
{
    auto store = m_factory->make();
    openStore(*store);
    const ReportResult first = report(*store, 0, 1, {QStringLiteral("concurrent_1")});
    const ReportResult second = report(*store, 0, 1, {QStringLiteral("concurrent_1"), QStringLiteral("time_1m")});
    QCOMPARE(first.wonClaims, QStringList{QStringLiteral("concurrent_1")});
    QCOMPARE(second.wonClaims, QStringList{QStringLiteral("time_1m")});
    QCOMPARE(second.state.unlockedMilestones,
             (QStringList{QStringLiteral("concurrent_1"), QStringLiteral("time_1m")}));
}

void TestStateStore::restartResumesTheSameCollective()
{
    {
        auto store = m_factory->make();
        openStore(*store);
        report(*store, 40, 4, {QStringLiteral("concurrent_1")});
        QVERIFY(store->close(NodeReport{2, 0, {}}, 2000));
    }
    auto restarted = m_factory->make();
    const GlobalState state = openStore(*restarted);
    QCOMPARE(state.totalConnectionSeconds, qint64(42));
    QCOMPARE(state.peakConnections, qint64(4));
    QCOMPARE(state.unlockedMilestones, QStringList{QStringLiteral("concurrent_1")});
}

void TestStateStore::readyAfterOpen()
{
    auto store = m_factory->make();
    QVERIFY(!store->isReady());
    QVERIFY(!store->notReadyReason().isEmpty());
    openStore(*store);
    QVERIFY(store->isReady());
}

QTEST_GUILESS_MAIN(TestStateStore)
#include "tst_statestore.moc"
