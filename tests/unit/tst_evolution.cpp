// Evolution: each milestone becomes a candidate at its threshold and not
// before, once; compound milestones follow their catalogue rules.
#include "evolution/evolution.h"

#include <QJsonArray>
#include <QTest>

using namespace collective;
using protocol::Catalogue;

class TestEvolution : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void concurrentUnlocksAtThresholdNotBefore_data();
    void concurrentUnlocksAtThresholdNotBefore();
    void timeUnlocksAtThresholdNotBefore();
    void unlockedMilestoneIsNotACandidateAgain();
    void reachedMilestoneStaysCandidateAfterDip();
    void sustainedThousandNeedsTenUnbrokenMinutes();
    void sustainedThousandRestartsAfterABreak();
    void peakExperienceNeedsANewPeakOfAHundred();
    void peakReachedBeforeStartIsNotNew();
    void progressReportsUnlockedAndFractions();
};

static GlobalState state(qint64 concurrent, qint64 peak, qint64 total, QStringList unlocked = {})
{
    GlobalState s;
    s.concurrentConnections = concurrent;
    s.peakConnections = peak;
    s.totalConnectionSeconds = total;
    s.unlockedMilestones = unlocked;
    return s;
}

void TestEvolution::concurrentUnlocksAtThresholdNotBefore_data()
{
    QTest::addColumn<qint64>("threshold");
    for (qint64 threshold : {1, 10, 100, 1000, 10000, 100000, 1000000})
        QTest::addRow("%lld witnesses", threshold) << threshold;
}

void TestEvolution::concurrentUnlocksAtThresholdNotBefore()
{
    QFETCH(qint64, threshold);
    const QString id = QStringLiteral("concurrent_%1").arg(threshold);

    Evolution evolution(Catalogue::builtin());
    evolution.begin(state(0, 0, 0));
    QVERIFY(!evolution.observe(state(threshold - 1, threshold - 1, 0), 0).contains(id));
    QVERIFY(evolution.observe(state(threshold, threshold, 0), 1).contains(id));
}

void TestEvolution::timeUnlocksAtThresholdNotBefore()
{
    Evolution evolution(Catalogue::builtin());
    evolution.begin(state(0, 0, 0));
    QVERIFY(!evolution.observe(state(0, 0, 59), 0).contains(QStringLiteral("time_1m")));
    const QStringList atMinute = evolution.observe(state(0, 0, 60), 1);
    QVERIFY(atMinute.contains(QStringLiteral("time_1m")));
    QVERIFY(!atMinute.contains(QStringLiteral("time_1h")));
    QVERIFY(evolution.observe(state(0, 0, 3600), 2).contains(QStringLiteral("time_1h")));
    QVERIFY(!evolution.observe(state(0, 0, 31535999), 3).contains(QStringLiteral("time_365d")));
    QVERIFY(evolution.observe(state(0, 0, 31536000), 4).contains(QStringLiteral("time_365d")));
}

void TestEvolution::unlockedMilestoneIsNotACandidateAgain()
{
    Evolution evolution(Catalogue::builtin());
    evolution.begin(state(0, 0, 0));
    QVERIFY(evolution.observe(state(1, 1, 0), 0).contains(QStringLiteral("concurrent_1")));
    const QStringList after = evolution.observe(state(1, 1, 0, {QStringLiteral("concurrent_1")}), 1);
    QVERIFY(!after.contains(QStringLiteral("concurrent_1")));
}

void TestEvolution::reachedMilestoneStaysCandidateAfterDip()
{
    // Ten witnesses came and went before the claim was recorded: they still
    // reached ten.
    Evolution evolution(Catalogue::builtin());
    evolution.begin(state(0, 0, 0));
    evolution.observe(state(10, 10, 0), 0);
    QVERIFY(evolution.observe(state(3, 10, 0), 1).contains(QStringLiteral("concurrent_10")));
}

void TestEvolution::sustainedThousandNeedsTenUnbrokenMinutes()
{
    const QString id = QStringLiteral("sustained_thousand");
    Evolution evolution(Catalogue::builtin());
    evolution.begin(state(0, 0, 0));

    QVERIFY(!evolution.observe(state(1000, 1000, 0), 0).contains(id));
    QVERIFY(!evolution.observe(state(1200, 1200, 0), 300000).contains(id));
    QVERIFY(!evolution.observe(state(1000, 1200, 0), 599999).contains(id));
    QVERIFY(evolution.observe(state(1000, 1200, 0), 600000).contains(id));
}

void TestEvolution::sustainedThousandRestartsAfterABreak()
{
    const QString id = QStringLiteral("sustained_thousand");
    Evolution evolution(Catalogue::builtin());
    evolution.begin(state(0, 0, 0));

    evolution.observe(state(1000, 1000, 0), 0);
    evolution.observe(state(999, 1000, 0), 300000); // the run breaks
    evolution.observe(state(1000, 1000, 0), 310000); // a new run begins
    QVERIFY(!evolution.observe(state(1000, 1000, 0), 600000).contains(id));
    QVERIFY(!evolution.observe(state(1000, 1000, 0), 909999).contains(id));
    QVERIFY(evolution.observe(state(1000, 1000, 0), 910000).contains(id));
}

void TestEvolution::peakExperienceNeedsANewPeakOfAHundred()
{
    const QString id = QStringLiteral("peak_experience");
    Evolution evolution(Catalogue::builtin());
    evolution.begin(state(0, 0, 0));

    QVERIFY(!evolution.observe(state(99, 99, 0), 0).contains(id));
    QVERIFY(evolution.observe(state(100, 100, 0), 1).contains(id));
}

void TestEvolution::peakReachedBeforeStartIsNotNew()
{
    const QString id = QStringLiteral("peak_experience");
    Evolution evolution(Catalogue::builtin());
    evolution.begin(state(0, 150, 0)); // the stored peak, from an earlier life

    QVERIFY(!evolution.observe(state(120, 150, 0), 0).contains(id));
    QVERIFY(!evolution.observe(state(150, 150, 0), 1).contains(id));
    QVERIFY(evolution.observe(state(151, 151, 0), 2).contains(id));
}

void TestEvolution::progressReportsUnlockedAndFractions()
{
    Evolution evolution(Catalogue::builtin());
    evolution.begin(state(0, 0, 0));
    const GlobalState current = state(5, 5, 30, {QStringLiteral("concurrent_1")});
    evolution.observe(current, 0);

    const QJsonObject progress = evolution.progress(current, 0);
    QCOMPARE(progress.value(QLatin1String("unlocked")).toInt(), 1);
    QCOMPARE(progress.value(QLatin1String("total")).toInt(), int(Catalogue::builtin().milestones().size()));

    QHash<QString, QJsonObject> byId;
    for (const QJsonValue &entry : progress.value(QLatin1String("milestones")).toArray())
        byId.insert(entry[QLatin1String("id")].toString(), entry.toObject());
    QCOMPARE(byId.value(QStringLiteral("concurrent_1")).value(QLatin1String("progress")).toDouble(), 1.0);
    QCOMPARE(byId.value(QStringLiteral("concurrent_10")).value(QLatin1String("progress")).toDouble(), 0.5);
    QCOMPARE(byId.value(QStringLiteral("time_1m")).value(QLatin1String("progress")).toDouble(), 0.5);
    QCOMPARE(byId.value(QStringLiteral("concurrent_10")).value(QLatin1String("unlocked")).toBool(), false);
}

QTEST_APPLESS_MAIN(TestEvolution)
#include "tst_evolution.moc"
