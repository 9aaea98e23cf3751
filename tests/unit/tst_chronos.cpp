// Chronos accounting with a manual clock: the witness-time integral is
// exact, a late tick loses nothing, fractions carry over. And the moment of
// each tick: on a multiple of the interval on the wall clock.
#include "chronos/chronos.h"

#include <QDateTime>
#include <QSignalSpy>
#include <QTest>

using namespace collective;

class TestChronos : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void nWitnessesForTSecondsAddNTimesT_data();
    void nWitnessesForTSecondsAddNTimesT();
    void lateTickLosesNoTime();
    void countChangesBetweenTicksAreIntegrated();
    void fractionsCarryToTheNextTick();
    void tickReportsNumberIntervalAndDrift();
    void ownedSecondsAreTakenOnce();
    void timerTicksOnItsOwn();
    void nextTickFallsOnABoundary_data();
    void nextTickFallsOnABoundary();
    void timerTicksOnWallClockBoundaries();
};

static QList<TickReport> collectTicks(Chronos &chronos, ManualClock &clock, int ticks, qint64 intervalMs)
{
    QList<TickReport> reports;
    QObject::connect(&chronos, &Chronos::tickCompleted, &chronos,
                     [&reports](const TickReport &report) { reports.append(report); });
    for (int i = 0; i < ticks; ++i) {
        clock.advance(intervalMs);
        chronos.tick();
    }
    return reports;
}

void TestChronos::nWitnessesForTSecondsAddNTimesT_data()
{
    QTest::addColumn<qint64>("witnesses");
    QTest::addColumn<int>("ticks");
    QTest::addColumn<qint64>("intervalMs");

    QTest::newRow("one witness, one tick") << qint64(1) << 1 << qint64(5000);
    QTest::newRow("three witnesses, ten ticks") << qint64(3) << 10 << qint64(5000);
    QTest::newRow("a thousand witnesses, 1 s ticks") << qint64(1000) << 60 << qint64(1000);
    QTest::newRow("no witnesses") << qint64(0) << 5 << qint64(5000);
}

void TestChronos::nWitnessesForTSecondsAddNTimesT()
{
    QFETCH(qint64, witnesses);
    QFETCH(int, ticks);
    QFETCH(qint64, intervalMs);

    ManualClock clock;
    Chronos chronos(&clock, int(intervalMs));
    chronos.setWitnessCount(witnesses);
    const QList<TickReport> reports = collectTicks(chronos, clock, ticks, intervalMs);

    qint64 total = 0;
    for (const TickReport &report : reports)
        total += report.addedSeconds;
    QCOMPARE(reports.size(), ticks);
    QCOMPARE(total, witnesses * ticks * intervalMs / 1000);
}

void TestChronos::lateTickLosesNoTime()
{
    ManualClock clock;
    Chronos chronos(&clock, 5000);
    chronos.setWitnessCount(2);

    // The event loop was busy: the tick comes 7.5 s late.
    QSignalSpy spy(&chronos, &Chronos::tickCompleted);
    clock.advance(12500);
    chronos.tick();

    QCOMPARE(spy.size(), 1);
    const auto report = spy.at(0).at(0).value<TickReport>();
    QCOMPARE(report.addedSeconds, qint64(25));
    QCOMPARE(report.intervalMs, qint64(12500));
    QCOMPARE(report.driftMs, qint64(7500));
}

void TestChronos::countChangesBetweenTicksAreIntegrated()
{
    ManualClock clock;
    Chronos chronos(&clock, 5000);
    QSignalSpy spy(&chronos, &Chronos::tickCompleted);

    chronos.setWitnessCount(1); // 1 witness for 2 s
    clock.advance(2000);
    chronos.setWitnessCount(4); // 4 witnesses for 2 s
    clock.advance(2000);
    chronos.setWitnessCount(0); // nobody for 1 s
    clock.advance(1000);
    chronos.tick();

    QCOMPARE(spy.at(0).at(0).value<TickReport>().addedSeconds, qint64(1 * 2 + 4 * 2));
}

void TestChronos::fractionsCarryToTheNextTick()
{
    ManualClock clock;
    Chronos chronos(&clock, 300);
    chronos.setWitnessCount(1);

    // 1 witness for 0.3 s per tick: 0, 0, 0 (0.9 s), then 1 (1.2 s), ...
    const QList<TickReport> reports = collectTicks(chronos, clock, 10, 300);
    qint64 total = 0;
    for (const TickReport &report : reports)
        total += report.addedSeconds;
    QCOMPARE(reports.at(0).addedSeconds, qint64(0));
    QCOMPARE(reports.at(3).addedSeconds, qint64(1));
    QCOMPARE(total, qint64(3)); // 3.0 s; the carried 0 ms is not lost either
}

void TestChronos::tickReportsNumberIntervalAndDrift()
{
    ManualClock clock;
    Chronos chronos(&clock, 1000);
    const QList<TickReport> reports = collectTicks(chronos, clock, 3, 1000);

    QCOMPARE(reports.at(0).tick, qint64(1));
    QCOMPARE(reports.at(2).tick, qint64(3));
    QCOMPARE(reports.at(1).intervalMs, qint64(1000));
    QCOMPARE(reports.at(1).driftMs, qint64(0));
    QCOMPARE(chronos.stats().ticks, qint64(3));
    QCOMPARE(chronos.stats().lastTickAtMs, qint64(3000));
}

void TestChronos::ownedSecondsAreTakenOnce()
{
    ManualClock clock;
    Chronos chronos(&clock, 5000);
    chronos.setWitnessCount(3);
    clock.advance(2500);

    QCOMPARE(chronos.takeOwedSeconds(), qint64(7)); // 7.5 witness-seconds, 0.5 carried
    QCOMPARE(chronos.takeOwedSeconds(), qint64(0));
    clock.advance(500);
    QCOMPARE(chronos.takeOwedSeconds(), qint64(2)); // 0.5 carried + 1.5
}

void TestChronos::timerTicksOnItsOwn()
{
    SteadyClock clock;
    Chronos chronos(&clock, 100);
    QSignalSpy spy(&chronos, &Chronos::tickCompleted);
    chronos.start();
    QTRY_VERIFY_WITH_TIMEOUT(spy.size() >= 2, 5000);
    chronos.stop();
}

void TestChronos::nextTickFallsOnABoundary_data()
{
    QTest::addColumn<qint64>("wallMs");
    QTest::addColumn<qint64>("intervalMs");
    QTest::addColumn<qint64>("expectedWaitMs");

    QTest::newRow("on a boundary: the next one") << qint64(10000) << qint64(1000) << qint64(1000);
    QTest::newRow("just past a boundary") << qint64(10001) << qint64(1000) << qint64(999);
    QTest::newRow("more than half an interval left") << qint64(10499) << qint64(1000) << qint64(501);
    QTest::newRow("exactly half left: the one after") << qint64(10500) << qint64(1000) << qint64(1500);
    QTest::newRow("a timer that fired 1 ms early") << qint64(10999) << qint64(1000) << qint64(1001);
    QTest::newRow("5 s ticks, a real date") << qint64(1796440801234) << qint64(5000) << qint64(3766);
    QTest::newRow("before 1970") << qint64(-1) << qint64(1000) << qint64(1001);
    QTest::newRow("interval that does not divide a second") << qint64(1100) << qint64(300) << qint64(400);
}

void TestChronos::nextTickFallsOnABoundary()
{
    QFETCH(qint64, wallMs);
    QFETCH(qint64, intervalMs);
    QFETCH(qint64, expectedWaitMs);

    const qint64 wait = msUntilNextTick(wallMs, intervalMs);
    QCOMPARE(wait, expectedWaitMs);
    QCOMPARE((wallMs + wait) % intervalMs, qint64(0));
}

void TestChronos::timerTicksOnWallClockBoundaries()
{
    // Each tick is recorded with the wall clock's distance to the nearest
    // multiple of the interval. Here the ticks came 1 to 7 ms late, far
    // inside the margin, which leaves room for a loaded machine.
    constexpr qint64 intervalMs = 400;
    constexpr qint64 marginMs = 150;
    SteadyClock clock;
    Chronos chronos(&clock, int(intervalMs));
    QList<qint64> offsets;
    connect(&chronos, &Chronos::tickCompleted, &chronos, [&offsets] {
        const qint64 phase = QDateTime::currentMSecsSinceEpoch() % intervalMs;
        offsets.append(qMin(phase, intervalMs - phase));
    });
    chronos.start();
    QTRY_VERIFY_WITH_TIMEOUT(offsets.size() >= 3, 5000);
    chronos.stop();

    for (qint64 offset : std::as_const(offsets))
        QVERIFY2(offset < marginMs, qPrintable(QStringLiteral("a tick %1 ms off its boundary").arg(offset)));
}

QTEST_GUILESS_MAIN(TestChronos)
#include "tst_chronos.moc"
