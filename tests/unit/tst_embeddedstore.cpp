// The embedded store's file: a crash during a save leaves the last complete
// state, and a damaged file stops the start instead of starting from zero.
#include "store/embeddedstore.h"

#include <QProcess>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>

using namespace collective;

namespace {

GlobalState openStore(StateStore &store)
{
    QSignalSpy opened(&store, &StateStore::opened);
    store.open();
    if (!QTest::qWaitFor([&] { return !opened.isEmpty(); }, 5000))
        qFatal("The embedded store did not open within 5 s.");
    return opened.at(0).at(0).value<GlobalState>();
}

} // namespace

class TestEmbeddedStore : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void killDuringWriteLeavesLastGoodState();
    void leftoverTemporaryFileIsIgnored();
    void damagedFileStopsTheStart();

};

void TestEmbeddedStore::killDuringWriteLeavesLastGoodState()
{
    QTemporaryDir dir;

    // A real process saving as fast as it can, killed without warning.
    for (int round = 0; round < 5; ++round) {
        QProcess writer;
        writer.start(QStringLiteral(STORE_WRITER_PATH), {dir.path()});
        QVERIFY(writer.waitForStarted());
        QByteArray output;
        QTRY_VERIFY_WITH_TIMEOUT((output += writer.readAllStandardOutput()).count('\n') > 50 + round * 37, 10000);
        ::kill(pid_t(writer.processId()), SIGKILL);
        QVERIFY(writer.waitForFinished());

        auto store = std::make_unique<EmbeddedStore>(dir.path());
        const GlobalState state = openStore(*store);
        QVERIFY2(state.totalConnectionSeconds >= 50, qPrintable(QString::number(state.totalConnectionSeconds)));
    }
}

void TestEmbeddedStore::leftoverTemporaryFileIsIgnored()
{
    QTemporaryDir dir;

    {
        auto store = std::make_unique<EmbeddedStore>(dir.path());
        openStore(*store);
        QSignalSpy applied(store.get(), &StateStore::reportApplied);
        store->report(NodeReport{11, 1, {}});
        QTRY_COMPARE(applied.size(), 1);
    }
    // What a kill between write and rename leaves: a half-written temporary file.
    QFile partial(dir.path() + QStringLiteral("/collective-state.json.Xa1b2c"));
    QVERIFY(partial.open(QIODevice::WriteOnly));
    partial.write("{\"version\":1,\"total_connection_sec");
    partial.close();

    auto store = std::make_unique<EmbeddedStore>(dir.path());
    QCOMPARE(openStore(*store).totalConnectionSeconds, qint64(11));
}

void TestEmbeddedStore::damagedFileStopsTheStart()
{
    QTemporaryDir dir;

    QFile file(dir.path() + QStringLiteral("/collective-state.json"));
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write("not json");
    file.close();

    EmbeddedStore store(dir.path());
    QSignalSpy failed(&store, &StateStore::openFailed);
    store.open();
    QTRY_COMPARE(failed.size(), 1);
    const QString reason = failed.at(0).at(0).toString();
    QVERIFY2(reason.contains(QLatin1String("damaged")), qPrintable(reason));
    QVERIFY(!store.isReady());
}

QTEST_GUILESS_MAIN(TestEmbeddedStore)
#include "tst_embeddedstore.moc"
