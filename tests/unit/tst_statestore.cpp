// The state store contract, run against every backend, and the embedded
// store's crash safety.
#include "store/embeddedstore.h"

#include <QProcess>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>
#include <memory>

using namespace collective;

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

    // The embedded store's file.
    void killDuringWriteLeavesLastGoodState();
    void leftoverTemporaryFileIsIgnored();
    void damagedFileStopsTheStart();

private:
    std::unique_ptr<StoreFactory> m_factory;
};

void TestStateStore::initTestCase_data()
{
    QTest::addColumn<QString>("backend");
    QTest::newRow("embedded") << QStringLiteral("embedded");
}

void TestStateStore::init()
{
    QFETCH_GLOBAL(QString, backend);
    if (backend == QLatin1String("embedded"))
        m_factory = std::make_unique<EmbeddedFactory>();
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

void TestStateStore::killDuringWriteLeavesLastGoodState()
{
    QFETCH_GLOBAL(QString, backend);
    if (backend != QLatin1String("embedded"))
        QSKIP("file crash safety is the embedded store's own property");
    auto *factory = static_cast<EmbeddedFactory *>(m_factory.get());

    // A real process saving as fast as it can, killed without warning.
    for (int round = 0; round < 5; ++round) {
        QProcess writer;
        writer.start(QStringLiteral(STORE_WRITER_PATH), {factory->path()});
        QVERIFY(writer.waitForStarted());
        QByteArray output;
        QTRY_VERIFY_WITH_TIMEOUT((output += writer.readAllStandardOutput()).count('\n') > 50 + round * 37, 10000);
        ::kill(pid_t(writer.processId()), SIGKILL);
        QVERIFY(writer.waitForFinished());

        auto store = m_factory->make();
        const GlobalState state = openStore(*store);
        QVERIFY2(state.totalConnectionSeconds >= 50, qPrintable(QString::number(state.totalConnectionSeconds)));
    }
}

void TestStateStore::leftoverTemporaryFileIsIgnored()
{
    QFETCH_GLOBAL(QString, backend);
    if (backend != QLatin1String("embedded"))
        QSKIP("file crash safety is the embedded store's own property");
    auto *factory = static_cast<EmbeddedFactory *>(m_factory.get());

    {
        auto store = m_factory->make();
        openStore(*store);
        report(*store, 11, 1);
    }
    // What a kill between write and rename leaves: a half-written temporary file.
    QFile partial(factory->path() + QStringLiteral("/collective-state.json.Xa1b2c"));
    QVERIFY(partial.open(QIODevice::WriteOnly));
    partial.write("{\"version\":1,\"total_connection_sec");
    partial.close();

    auto store = m_factory->make();
    QCOMPARE(openStore(*store).totalConnectionSeconds, qint64(11));
}

void TestStateStore::damagedFileStopsTheStart()
{
    QFETCH_GLOBAL(QString, backend);
    if (backend != QLatin1String("embedded"))
        QSKIP("the state file is the embedded store's own");
    auto *factory = static_cast<EmbeddedFactory *>(m_factory.get());

    QFile file(factory->path() + QStringLiteral("/collective-state.json"));
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write("not json");
    file.close();

    EmbeddedStore store(factory->path());
    QSignalSpy failed(&store, &StateStore::openFailed);
    store.open();
    QTRY_COMPARE(failed.size(), 1);
    const QString reason = failed.at(0).at(0).toString();
    QVERIFY2(reason.contains(QLatin1String("damaged")), qPrintable(reason));
    QVERIFY(!store.isReady());
}

QTEST_GUILESS_MAIN(TestStateStore)
#include "tst_statestore.moc"
