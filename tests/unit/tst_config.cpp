// Settings: defaults, environment and flags, and a clear rejection that
// names the variable for every bad value.
#include "config/config.h"
#include "config/redisendpoint.h"

#include <QTest>

using namespace collective;

class TestConfig : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void defaultsAreDocumentedValues();
    void environmentAndFlagsAreRead();
    void flagWinsOverEnvironment();
    void prodListensOnAllAddresses();
    void rejectsBadValues_data();
    void rejectsBadValues();
    void secretIsNeverEchoed();
    void redisUrlForms_data();
    void redisUrlForms();
    void clusterSeedsAreRead();
    void helpListsEveryVariable();
};

void TestConfig::defaultsAreDocumentedValues()
{
    const ConfigResult result = parseConfig({}, {});
    QVERIFY2(result.config, qPrintable(result.error));
    const Config &config = *result.config;
    QCOMPARE(config.port, quint16(4000));
    QCOMPARE(config.bindAddress, QHostAddress(QHostAddress::LocalHost));
    QCOMPARE(config.environment, Environment::Dev);
    QCOMPARE(config.tickIntervalMs, 5000);
    QCOMPARE(config.idleTimeoutMs, 60000);
    QCOMPARE(config.maxFrameBytes, 4096);
    QCOMPARE(config.dataDir, QStringLiteral("data"));
    QVERIFY(config.threads >= 1);
    QVERIFY(config.redisUrl.isEmpty());
}

void TestConfig::environmentAndFlagsAreRead()
{
    const ConfigResult result = parseConfig(
            {QStringLiteral("PORT=4100"), QStringLiteral("COLLECTIVE_TICK_INTERVAL_MS=250"),
             QStringLiteral("COLLECTIVE_DATA_DIR=/var/lib/collective"), QStringLiteral("UNRELATED=x")},
            {QStringLiteral("--collective-threads=3"), QStringLiteral("--collective-idle-timeout-ms"),
             QStringLiteral("9000")});
    QVERIFY2(result.config, qPrintable(result.error));
    QCOMPARE(result.config->port, quint16(4100));
    QCOMPARE(result.config->tickIntervalMs, 250);
    QCOMPARE(result.config->dataDir, QStringLiteral("/var/lib/collective"));
    QCOMPARE(result.config->threads, 3);
    QCOMPARE(result.config->idleTimeoutMs, 9000);
}

void TestConfig::flagWinsOverEnvironment()
{
    const ConfigResult result = parseConfig({QStringLiteral("PORT=4100")}, {QStringLiteral("--port=4200")});
    QVERIFY2(result.config, qPrintable(result.error));
    QCOMPARE(result.config->port, quint16(4200));
}

void TestConfig::prodListensOnAllAddresses()
{
    const ConfigResult prod = parseConfig({QStringLiteral("MIX_ENV=prod")}, {});
    QVERIFY(prod.config);
    QCOMPARE(prod.config->environment, Environment::Prod);
    QCOMPARE(prod.config->bindAddress, QHostAddress(QHostAddress::AnyIPv4));

    // COLLECTIVE_ENV wins over MIX_ENV.
    const ConfigResult both = parseConfig({QStringLiteral("MIX_ENV=prod"), QStringLiteral("COLLECTIVE_ENV=dev")}, {});
    QVERIFY(both.config);
    QCOMPARE(both.config->environment, Environment::Dev);
}

void TestConfig::rejectsBadValues_data()
{
    QTest::addColumn<QStringList>("environment");
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<QString>("named");

    QTest::newRow("port not a number") << QStringList{QStringLiteral("PORT=abc")} << QStringList() << "PORT";
    QTest::newRow("port too large") << QStringList{QStringLiteral("PORT=70000")} << QStringList() << "PORT";
    QTest::newRow("tick interval zero") << QStringList{QStringLiteral("COLLECTIVE_TICK_INTERVAL_MS=0")}
                                        << QStringList() << "COLLECTIVE_TICK_INTERVAL_MS";
    QTest::newRow("tick interval negative") << QStringList{QStringLiteral("COLLECTIVE_TICK_INTERVAL_MS=-5")}
                                            << QStringList() << "COLLECTIVE_TICK_INTERVAL_MS";
    QTest::newRow("unknown environment") << QStringList{QStringLiteral("MIX_ENV=staging")} << QStringList()
                                         << "MIX_ENV";
    QTest::newRow("bind not an address") << QStringList{QStringLiteral("COLLECTIVE_BIND=example")} << QStringList()
                                         << "COLLECTIVE_BIND";
    QTest::newRow("host with scheme") << QStringList{QStringLiteral("PHX_HOST=https://example.org")} << QStringList()
                                      << "PHX_HOST";
    QTest::newRow("redis url without port") << QStringList{QStringLiteral("REDIS_URL=redis://localhost")}
                                            << QStringList() << "REDIS_URL";
    QTest::newRow("several servers without cluster")
            << QStringList{QStringLiteral("REDIS_URL=redis://10.0.0.1:7000,redis://10.0.0.2:7000")} << QStringList()
            << "REDIS_CLUSTER=1";
    QTest::newRow("cluster without url") << QStringList{QStringLiteral("REDIS_CLUSTER=1")} << QStringList()
                                         << "REDIS_URL";
    QTest::newRow("cluster switch not 0 or 1") << QStringList{QStringLiteral("REDIS_CLUSTER=yes")} << QStringList()
                                               << "REDIS_CLUSTER";
    QTest::newRow("cluster seed with a database")
            << QStringList{QStringLiteral("REDIS_URL=redis://10.0.0.1:7000/3"), QStringLiteral("REDIS_CLUSTER=1")}
            << QStringList() << "REDIS_URL";
    QTest::newRow("cluster seed on a unix socket")
            << QStringList{QStringLiteral("REDIS_URL=unix:///run/redis.sock"), QStringLiteral("REDIS_CLUSTER=1")}
            << QStringList() << "REDIS_URL";
    QTest::newRow("one bad seed among good ones")
            << QStringList{QStringLiteral("REDIS_URL=redis://10.0.0.1:7000,redis://10.0.0.2"),
                           QStringLiteral("REDIS_CLUSTER=1")}
            << QStringList() << "REDIS_URL";
    QTest::newRow("threads zero") << QStringList{QStringLiteral("COLLECTIVE_THREADS=0")} << QStringList()
                                  << "COLLECTIVE_THREADS";
    QTest::newRow("frame limit tiny") << QStringList{QStringLiteral("COLLECTIVE_MAX_FRAME_BYTES=10")}
                                      << QStringList() << "COLLECTIVE_MAX_FRAME_BYTES";
    QTest::newRow("bad flag value") << QStringList() << QStringList{QStringLiteral("--port=x")} << "PORT";
    QTest::newRow("unknown flag") << QStringList() << QStringList{QStringLiteral("--colour=blue")} << "--colour";
    QTest::newRow("unknown flag without value") << QStringList() << QStringList{QStringLiteral("--colour")}
                                                << "Unknown flag --colour";
    QTest::newRow("flag without value") << QStringList() << QStringList{QStringLiteral("--port")} << "--port";
}

void TestConfig::rejectsBadValues()
{
    QFETCH(QStringList, environment);
    QFETCH(QStringList, arguments);
    QFETCH(QString, named);

    const ConfigResult result = parseConfig(environment, arguments);
    QVERIFY(!result.config);
    QVERIFY2(result.error.contains(named), qPrintable(result.error));
}

void TestConfig::secretIsNeverEchoed()
{
    const ConfigResult result = parseConfig({QStringLiteral("SECRET_KEY_BASE=short-secret")}, {});
    QVERIFY(!result.config);
    QVERIFY(result.error.contains(QLatin1String("SECRET_KEY_BASE")));
    QVERIFY2(!result.error.contains(QLatin1String("short-secret")), qPrintable(result.error));

    const ConfigResult accepted = parseConfig({QStringLiteral("SECRET_KEY_BASE=") + QString(64, QLatin1Char('k'))}, {});
    QVERIFY(accepted.config);
}

void TestConfig::redisUrlForms_data()
{
    QTest::addColumn<QString>("url");
    QTest::addColumn<bool>("valid");

    QTest::newRow("host and port") << "redis://localhost:6379" << true;
    QTest::newRow("password and db") << "redis://:s3cret@10.0.0.5:6380/2" << true;
    QTest::newRow("unix socket") << "unix:///run/redis/redis.sock" << true;
    QTest::newRow("no port") << "redis://localhost" << false;
    QTest::newRow("db out of range") << "redis://localhost:6379/16" << false;
    QTest::newRow("db not a number") << "redis://localhost:6379/x" << false;
    QTest::newRow("wrong scheme") << "http://localhost:6379" << false;
    QTest::newRow("unix without path") << "unix://" << false;
    QTest::newRow("garbage") << "::::" << false;
}

void TestConfig::redisUrlForms()
{
    QFETCH(QString, url);
    QFETCH(bool, valid);
    QCOMPARE(isValidRedisUrl(url), valid);
}

void TestConfig::clusterSeedsAreRead()
{
    const ConfigResult result = parseConfig(
            {QStringLiteral("REDIS_URL=redis://:pw@10.0.0.1:7000, redis://10.0.0.2:7001"), QStringLiteral("REDIS_CLUSTER=1")},
            {});
    QVERIFY2(result.config, qPrintable(result.error));
    QVERIFY(result.config->redisCluster);

    QString error;
    const auto seeds = parseRedisSeeds(result.config->redisUrl, true, &error);
    QVERIFY2(seeds, qPrintable(error));
    QCOMPARE(seeds->size(), 2);
    QCOMPARE(seeds->at(0).host, QStringLiteral("10.0.0.1"));
    QCOMPARE(seeds->at(0).port, 7000);
    QCOMPARE(seeds->at(0).password, QStringLiteral("pw"));
    QCOMPARE(seeds->at(1).host, QStringLiteral("10.0.0.2"));
    QCOMPARE(seeds->at(1).port, 7001);

    // One server is a cluster of one seed, too.
    const ConfigResult single =
            parseConfig({QStringLiteral("REDIS_URL=redis://10.0.0.1:7000"), QStringLiteral("REDIS_CLUSTER=1")}, {});
    QVERIFY2(single.config, qPrintable(single.error));
}

void TestConfig::helpListsEveryVariable()
{
    const QString help = configHelp();
    for (const char *variable : {"PORT", "PHX_HOST", "REDIS_URL", "REDIS_CLUSTER", "SECRET_KEY_BASE", "MIX_ENV", "COLLECTIVE_ENV",
                                 "COLLECTIVE_TICK_INTERVAL_MS", "COLLECTIVE_DATA_DIR", "COLLECTIVE_THREADS",
                                 "COLLECTIVE_IDLE_TIMEOUT_MS", "COLLECTIVE_MAX_FRAME_BYTES", "COLLECTIVE_MAX_CONNECTIONS"})
        QVERIFY2(help.contains(QLatin1String(variable)), variable);
}

QTEST_APPLESS_MAIN(TestConfig)
#include "tst_config.moc"
