// ReconnectPolicy: exponential backoff with jitter, driven by an injected
// random source so every delay is known in advance.
#include "reconnectpolicy.h"

#include <QTest>

using namespace collective::witness;
using namespace std::chrono_literals;

namespace {

// A random source that always returns `value`, in [0, 1).
ReconnectPolicy::RandomSource constant(double value)
{
    return [value] { return value; };
}

} // namespace

class TestReconnectPolicy : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void delayDoublesUpToCap();
    void jitterStaysWithinBounds_data();
    void jitterStaysWithinBounds();
    void jitterSpreadsBothWays();
    void successfulJoinResetsBackoff();
    void neverGivesUp();
    void invalidSettingsAreClamped();
};

void TestReconnectPolicy::delayDoublesUpToCap()
{
    // 0.5 is the middle of the jitter range: no jitter at all.
    ReconnectPolicy policy({1000ms, 30000ms, 0.2}, constant(0.5));

    const QList<qint64> expected{1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000};
    for (qsizetype attempt = 0; attempt < expected.size(); ++attempt) {
        QCOMPARE(policy.nextDelay().count(), expected.at(attempt));
        QCOMPARE(policy.attempts(), attempt + 1);
    }
}

void TestReconnectPolicy::jitterStaysWithinBounds_data()
{
    QTest::addColumn<double>("random");
    QTest::addColumn<double>("factor");

    QTest::newRow("lowest draw is 20 % shorter") << 0.0 << 0.8;
    QTest::newRow("middle draw is exact") << 0.5 << 1.0;
    QTest::newRow("highest draw is almost 20 % longer") << 0.999999 << 1.2;
}

void TestReconnectPolicy::jitterStaysWithinBounds()
{
    QFETCH(double, random);
    QFETCH(double, factor);
    ReconnectPolicy policy({1000ms, 30000ms, 0.2}, constant(random));

    qint64 base = 1000;
    for (int attempt = 0; attempt < 12; ++attempt) {
        const qint64 delay = policy.nextDelay().count();
        QVERIFY2(qAbs(delay - qRound64(base * factor)) <= 1,
                 qPrintable(QStringLiteral("attempt %1: delay %2 ms, expected %3 ms")
                                .arg(attempt).arg(delay).arg(qRound64(base * factor))));
        QVERIFY(delay >= 800 && delay <= 36000);
        base = qMin<qint64>(base * 2, 30000);
    }
}

void TestReconnectPolicy::jitterSpreadsBothWays()
{
    // A sequence of draws across the whole range gives different delays
    // for the same attempt, so kiosks that lost one server spread out.
    QList<double> draws{0.1, 0.9, 0.3, 0.7};
    qsizetype next = 0;
    QSet<qint64> firstDelays;
    for (int kiosk = 0; kiosk < draws.size(); ++kiosk) {
        ReconnectPolicy policy({1000ms, 30000ms, 0.2}, [&] { return draws.at(next++ % draws.size()); });
        firstDelays.insert(policy.nextDelay().count());
    }
    QCOMPARE(firstDelays.size(), 4);
    for (qint64 delay : firstDelays)
        QVERIFY(delay >= 800 && delay < 1200);
}

void TestReconnectPolicy::successfulJoinResetsBackoff()
{
    ReconnectPolicy policy({1000ms, 30000ms, 0.2}, constant(0.5));
    for (int attempt = 0; attempt < 6; ++attempt)
        policy.nextDelay();
    QCOMPARE(policy.nextDelay().count(), 30000);

    policy.reset();

    QCOMPARE(policy.attempts(), 0);
    QCOMPARE(policy.nextDelay().count(), 1000);
    QCOMPARE(policy.nextDelay().count(), 2000);
}

void TestReconnectPolicy::neverGivesUp()
{
    // A week of a missing server at the cap is about 20 000 attempts; every
    // one still returns a finite delay within the bounds.
    QList<double> draws{0.0, 0.25, 0.5, 0.75, 0.999};
    qsizetype next = 0;
    ReconnectPolicy policy({1000ms, 30000ms, 0.2}, [&] { return draws.at(next++ % draws.size()); });

    for (int attempt = 0; attempt < 25000; ++attempt) {
        const qint64 delay = policy.nextDelay().count();
        QVERIFY2(delay >= 800 && delay <= policy.maxPossibleDelay().count(),
                 qPrintable(QStringLiteral("attempt %1: delay %2 ms").arg(attempt).arg(delay)));
    }
    QCOMPARE(policy.attempts(), 25000);
    QCOMPARE(policy.maxPossibleDelay().count(), 36000);
}

void TestReconnectPolicy::invalidSettingsAreClamped()
{
    // A cap below the first delay, and a jitter of 100 % or more, would give
    // zero or shrinking delays; the policy corrects both.
    ReconnectPolicy policy({500ms, 100ms, 1.5}, constant(0.0));
    QCOMPARE(policy.settings().maxDelay.count(), 500);
    QVERIFY(policy.settings().jitter < 1.0);
    QVERIFY(policy.nextDelay().count() >= 1);
}

QTEST_GUILESS_MAIN(TestReconnectPolicy)
#include "tst_reconnectpolicy.moc"
