// The milestone catalogue: the built-in file is valid and complete, and a
// broken catalogue is rejected with a message that names the fault.
#include "protocol/catalogue.h"

#include <QTest>

using namespace collective::protocol;

class TestCatalogue : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void builtinHasEveryRequiredMilestone();
    void builtinCompoundRulesAreExact();
    void rejectsBrokenCatalogues_data();
    void rejectsBrokenCatalogues();
};

void TestCatalogue::builtinHasEveryRequiredMilestone()
{
    const Catalogue &catalogue = Catalogue::builtin();

    const QList<qint64> concurrent{1, 10, 100, 1000, 10000, 100000, 1000000};
    for (qint64 threshold : concurrent) {
        const Milestone *milestone = catalogue.find(QStringLiteral("concurrent_%1").arg(threshold));
        QVERIFY2(milestone, qPrintable(QStringLiteral("concurrent_%1 is missing").arg(threshold)));
        QCOMPARE(milestone->kind, MilestoneKind::Concurrent);
        QCOMPARE(milestone->threshold, threshold);
    }

    const QList<QPair<QString, qint64>> time{{QStringLiteral("time_1m"), 60},       {QStringLiteral("time_1h"), 3600},
                                             {QStringLiteral("time_1d"), 86400},    {QStringLiteral("time_1w"), 604800},
                                             {QStringLiteral("time_30d"), 2592000}, {QStringLiteral("time_365d"), 31536000}};
    for (const auto &[id, seconds] : time) {
        const Milestone *milestone = catalogue.find(id);
        QVERIFY2(milestone, qPrintable(id + QStringLiteral(" is missing")));
        QCOMPARE(milestone->kind, MilestoneKind::Time);
        QCOMPARE(milestone->threshold, seconds);
    }

    for (const Milestone &milestone : catalogue.milestones()) {
        QVERIFY(!milestone.name.isEmpty());
        QVERIFY(!milestone.description.isEmpty());
    }
}

void TestCatalogue::builtinCompoundRulesAreExact()
{
    const Catalogue &catalogue = Catalogue::builtin();

    const Milestone *sustained = catalogue.find(QStringLiteral("sustained_thousand"));
    QVERIFY(sustained && sustained->rule);
    QCOMPARE(sustained->kind, MilestoneKind::Compound);
    QCOMPARE(sustained->rule->type, CompoundRule::Type::Sustained);
    QCOMPARE(sustained->rule->minConcurrent, qint64(1000));
    QCOMPARE(sustained->rule->durationSeconds, qint64(600));

    const Milestone *peak = catalogue.find(QStringLiteral("peak_experience"));
    QVERIFY(peak && peak->rule);
    QCOMPARE(peak->rule->type, CompoundRule::Type::NewPeak);
    QCOMPARE(peak->rule->minPeak, qint64(100));
}

void TestCatalogue::rejectsBrokenCatalogues_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<QString>("expectedFragment");

    QTest::newRow("not JSON") << QByteArray("{") << "not valid JSON";
    QTest::newRow("no milestones") << QByteArray(R"({"milestones":[]})") << "no 'milestones'";
    QTest::newRow("bad id") << QByteArray(R"({"milestones":[{"id":"Bad Id","name":"n","description":"d","kind":"time","threshold":1}]})")
                            << "Bad Id";
    QTest::newRow("unknown kind")
            << QByteArray(R"({"milestones":[{"id":"a","name":"n","description":"d","kind":"mood","threshold":1}]})")
            << "unknown kind";
    QTest::newRow("zero threshold")
            << QByteArray(R"({"milestones":[{"id":"a","name":"n","description":"d","kind":"time","threshold":0}]})")
            << "threshold";
    QTest::newRow("duplicate id")
            << QByteArray(R"({"milestones":[{"id":"a","name":"n","description":"d","kind":"time","threshold":1},)"
                          R"({"id":"a","name":"n","description":"d","kind":"time","threshold":2}]})")
            << "appears twice";
    QTest::newRow("compound without rule")
            << QByteArray(R"({"milestones":[{"id":"a","name":"n","description":"d","kind":"compound","threshold":1}]})")
            << "rule type";
    QTest::newRow("sustained without duration")
            << QByteArray(R"({"milestones":[{"id":"a","name":"n","description":"d","kind":"compound","threshold":1,)"
                          R"("rule":{"type":"sustained","min_concurrent":5}}]})")
            << "duration_seconds";
}

void TestCatalogue::rejectsBrokenCatalogues()
{
    QFETCH(QByteArray, json);
    QFETCH(QString, expectedFragment);

    QString error;
    QVERIFY(!Catalogue::fromJson(json, &error));
    QVERIFY2(error.contains(expectedFragment), qPrintable(error));
}

QTEST_APPLESS_MAIN(TestCatalogue)
#include "tst_catalogue.moc"
