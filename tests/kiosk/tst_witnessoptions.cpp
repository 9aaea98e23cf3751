// Kiosk settings: server URLs as operators write them, and values that must
// stop the start with a message naming the flag.
#include "witnessoptions.h"

#include <QTest>

using namespace collective::witness;

class TestWitnessOptions : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void serverUrlIsCompleted_data();
    void serverUrlIsCompleted();
    void invalidServerUrlIsRejected_data();
    void invalidServerUrlIsRejected();
    void defaultsWithoutFlags();
    void flagWinsOverEnvironment();
    void reducedMotionFromEnvironment();
    void invalidValueNamesItsFlag_data();
    void invalidValueNamesItsFlag();
};

void TestWitnessOptions::init()
{
    for (const char *name : {"COLLECTIVE_URL", "COLLECTIVE_SCREEN", "COLLECTIVE_REDUCED_MOTION",
                             "COLLECTIVE_RECONNECT_INITIAL_MS", "COLLECTIVE_RECONNECT_MAX_MS", "COLLECTIVE_STATE_FILE",
                             "COLLECTIVE_SCREENSHOT", "COLLECTIVE_SCREENSHOT_AFTER_MS"})
        qunsetenv(name);
}

void TestWitnessOptions::serverUrlIsCompleted_data()
{
    QTest::addColumn<QString>("input");
    QTest::addColumn<QString>("expected");

    const QString full = QStringLiteral("ws://host:4000/socket/websocket?vsn=2.0.0");
    QTest::newRow("base") << QStringLiteral("ws://host:4000") << full;
    QTest::newRow("base with slash") << QStringLiteral("ws://host:4000/") << full;
    QTest::newRow("socket path") << QStringLiteral("ws://host:4000/socket") << full;
    QTest::newRow("full endpoint") << full << full;
    QTest::newRow("endpoint without vsn") << QStringLiteral("ws://host:4000/socket/websocket") << full;
    QTest::newRow("other vsn replaced") << QStringLiteral("ws://host:4000/socket/websocket?vsn=1.0.0") << full;
    QTest::newRow("http becomes ws") << QStringLiteral("http://host:4000") << full;
    QTest::newRow("https becomes wss") << QStringLiteral("https://collective.example")
                                       << QStringLiteral("wss://collective.example/socket/websocket?vsn=2.0.0");
}

void TestWitnessOptions::serverUrlIsCompleted()
{
    QFETCH(QString, input);
    QFETCH(QString, expected);
    QString error;

    const QUrl url = normaliseServerUrl(input, &error);

    QVERIFY2(url.isValid(), qPrintable(error));
    QCOMPARE(url.toString(), expected);
}

void TestWitnessOptions::invalidServerUrlIsRejected_data()
{
    QTest::addColumn<QString>("input");
    QTest::addColumn<QString>("mention");

    QTest::newRow("no host") << QStringLiteral("localhost:4000") << QStringLiteral("host");
    QTest::newRow("ftp scheme") << QStringLiteral("ftp://host:4000") << QStringLiteral("ws://");
    QTest::newRow("other path") << QStringLiteral("ws://host:4000/live") << QStringLiteral("/socket/websocket");
    QTest::newRow("empty") << QString() << QStringLiteral("host");
}

void TestWitnessOptions::invalidServerUrlIsRejected()
{
    QFETCH(QString, input);
    QFETCH(QString, mention);
    QString error;

    QVERIFY(!normaliseServerUrl(input, &error).isValid());
    QVERIFY2(error.contains(mention), qPrintable(error));
}

void TestWitnessOptions::defaultsWithoutFlags()
{
    QString error;
    const auto options = parseWitnessOptions({QStringLiteral("collective-witness")}, &error);

    QVERIFY2(options, qPrintable(error));
    QCOMPARE(options->url.toString(), QStringLiteral("ws://localhost:4000/socket/websocket?vsn=2.0.0"));
    QVERIFY(!options->windowed);
    QVERIFY(!options->reducedMotion);
    QCOMPARE(options->screen, -1);
    QCOMPARE(options->reconnect.initialDelay.count(), 1000);
    QCOMPARE(options->reconnect.maxDelay.count(), 30000);
    QVERIFY(options->stateFile.isEmpty());
    QVERIFY(options->screenshotPath.isEmpty());
}

void TestWitnessOptions::flagWinsOverEnvironment()
{
    qputenv("COLLECTIVE_URL", "ws://from-env:4000");
    qputenv("COLLECTIVE_RECONNECT_MAX_MS", "5000");
    QString error;
    const auto options = parseWitnessOptions({QStringLiteral("collective-witness"), QStringLiteral("--url"),
                                              QStringLiteral("ws://from-flag:4100"), QStringLiteral("--windowed"),
                                              QStringLiteral("--window-size"), QStringLiteral("1920x1080")},
                                             &error);

    QVERIFY2(options, qPrintable(error));
    QCOMPARE(options->url.host(), QStringLiteral("from-flag"));
    QCOMPARE(options->url.port(), 4100);
    QCOMPARE(options->reconnect.maxDelay.count(), 5000);
    QVERIFY(options->windowed);
    QCOMPARE(options->windowSize, QSize(1920, 1080));
}

void TestWitnessOptions::reducedMotionFromEnvironment()
{
    qputenv("COLLECTIVE_REDUCED_MOTION", "1");
    QString error;
    const auto options = parseWitnessOptions({QStringLiteral("collective-witness")}, &error);

    QVERIFY2(options, qPrintable(error));
    QVERIFY(options->reducedMotion);
}

void TestWitnessOptions::invalidValueNamesItsFlag_data()
{
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<QString>("mention");

    QTest::newRow("screen") << QStringList{QStringLiteral("--screen"), QStringLiteral("left")} << QStringLiteral("--screen");
    QTest::newRow("window size") << QStringList{QStringLiteral("--window-size"), QStringLiteral("big")}
                                 << QStringLiteral("--window-size");
    QTest::newRow("reconnect max") << QStringList{QStringLiteral("--reconnect-max-ms"), QStringLiteral("0")}
                                   << QStringLiteral("--reconnect-max-ms");
    QTest::newRow("max below initial") << QStringList{QStringLiteral("--reconnect-initial-ms"), QStringLiteral("5000"),
                                                      QStringLiteral("--reconnect-max-ms"), QStringLiteral("1000")}
                                       << QStringLiteral("smaller than --reconnect-initial-ms");
    QTest::newRow("url") << QStringList{QStringLiteral("--url"), QStringLiteral("gopher://x")} << QStringLiteral("--url");
    QTest::newRow("unknown flag") << QStringList{QStringLiteral("--colour")} << QStringLiteral("colour");
}

void TestWitnessOptions::invalidValueNamesItsFlag()
{
    QFETCH(QStringList, arguments);
    QFETCH(QString, mention);
    arguments.prepend(QStringLiteral("collective-witness"));
    QString error;

    QVERIFY(!parseWitnessOptions(arguments, &error));
    QVERIFY2(error.contains(mention), qPrintable(error));
}

QTEST_GUILESS_MAIN(TestWitnessOptions)
#include "tst_witnessoptions.moc"
