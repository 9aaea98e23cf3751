// CRC16 and hash tags as the Redis Cluster specification defines them.
#include "store/redis/cluster/hashslot.h"

#include <array>

namespace collective {

namespace {

// The table for polynomial 0x1021, built once at compile time.
constexpr std::array<quint16, 256> makeCrcTable()
{
    std::array<quint16, 256> table{};
    for (int byte = 0; byte < 256; ++byte) {
        quint16 crc = quint16(byte << 8);
        for (int bit = 0; bit < 8; ++bit)
            crc = (crc & 0x8000) ? quint16((crc << 1) ^ 0x1021) : quint16(crc << 1);
        table[std::size_t(byte)] = crc;
    }
    return table;
}

constexpr std::array<quint16, 256> crcTable = makeCrcTable();

} // namespace

quint16 crc16(const QByteArray &data)
{
    quint16 crc = 0;
    for (const char c : data)
        crc = quint16((crc << 8) ^ crcTable[((crc >> 8) ^ quint8(c)) & 0xff]);
    return crc;
}

QByteArray hashTagOf(const QByteArray &key)
{
    const qsizetype open = key.indexOf('{');
    if (open < 0)
        return key;
    const qsizetype close = key.indexOf('}', open + 1);
    if (close < 0 || close == open + 1)
        return key;
    return key.mid(open + 1, close - open - 1);
}

int hashSlotOf(const QByteArray &key)
{
    return crc16(hashTagOf(key)) & (clusterSlotCount - 1);
}

} // namespace collective
