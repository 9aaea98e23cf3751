// Hash slots as Redis Cluster computes them. The expected slots were read
// from a real cluster with CLUSTER KEYSLOT (Redis 7.0), so a router that
// sends a key elsewhere than Redis expects fails here first.
#include "store/redis/cluster/hashslot.h"

#include <QTest>

using namespace collective;

class TestHashSlot : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void crcOfTheCheckString();
    void slotsMatchRedis_data();
    void slotsMatchRedis();
    void hashTags_data();
    void hashTags();
    void storeKeysShareTheirSlots();
};

void TestHashSlot::crcOfTheCheckString()
{
    // The check value of CRC-16/XMODEM, the variant whose slots match Redis.
    QCOMPARE(crc16(QByteArrayLiteral("123456789")), quint16(0x31C3));
    QCOMPARE(crc16(QByteArray()), quint16(0));
}

void TestHashSlot::slotsMatchRedis_data()
{
    QTest::addColumn<QByteArray>("key");
    QTest::addColumn<int>("slot");

    QTest::newRow("foo") << QByteArrayLiteral("foo") << 12182;
    QTest::newRow("bar") << QByteArrayLiteral("bar") << 5061;
    QTest::newRow("check string") << QByteArrayLiteral("123456789") << 12739;
    QTest::newRow("empty key") << QByteArray() << 0;
    QTest::newRow("total") << QByteArrayLiteral("global:total_connection_seconds") << 2523;
    QTest::newRow("peak") << QByteArrayLiteral("global:peak_connections") << 8970;
    QTest::newRow("concurrent") << QByteArrayLiteral("global:concurrent_connections") << 1835;
    QTest::newRow("unlocked") << QByteArrayLiteral("global:unlocked_milestones") << 12017;
    QTest::newRow("node set") << QByteArrayLiteral("{collective}:nodes") << 8002;
    QTest::newRow("empty tag hashes the whole key") << QByteArrayLiteral("a{}b") << 13694;
    QTest::newRow("empty first tag") << QByteArrayLiteral("{}{x}") << 3257;
    QTest::newRow("first tag wins") << QByteArrayLiteral("x{y}{z}") << 12222;
    QTest::newRow("unclosed brace") << QByteArrayLiteral("{ab") << 7174;
}

void TestHashSlot::slotsMatchRedis()
{
    QFETCH(QByteArray, key);
    QFETCH(int, slot);
    QCOMPARE(hashSlotOf(key), slot);
}

void TestHashSlot::hashTags_data()
{
    QTest::addColumn<QByteArray>("key");
    QTest::addColumn<QByteArray>("hashed");

    QTest::newRow("no braces") << QByteArrayLiteral("plain") << QByteArrayLiteral("plain");
    QTest::newRow("tag") << QByteArrayLiteral("{user}:1") << QByteArrayLiteral("user");
    QTest::newRow("tag in the middle") << QByteArrayLiteral("a{b}c") << QByteArrayLiteral("b");
    QTest::newRow("empty tag") << QByteArrayLiteral("{}x") << QByteArrayLiteral("{}x");
    QTest::newRow("no closing brace") << QByteArrayLiteral("{x") << QByteArrayLiteral("{x");
    QTest::newRow("closing before opening") << QByteArrayLiteral("}x{y}") << QByteArrayLiteral("y");
}

void TestHashSlot::hashTags()
{
    QFETCH(QByteArray, key);
    QFETCH(QByteArray, hashed);
    QCOMPARE(hashTagOf(key), hashed);
}

void TestHashSlot::storeKeysShareTheirSlots()
{
    // Each store script keeps its keys in one slot; see redisstore.h.
    QCOMPARE(hashSlotOf("{global:total_connection_seconds}:applied:node"),
             hashSlotOf("global:total_connection_seconds"));
    QCOMPARE(hashSlotOf("{global:unlocked_milestones}:won_by"), hashSlotOf("global:unlocked_milestones"));
    QCOMPARE(hashSlotOf("{collective}:node:0123abcd"), hashSlotOf("{collective}:nodes"));
}

QTEST_APPLESS_MAIN(TestHashSlot)
#include "tst_hashslot.moc"
