// Redis Cluster's hash slot of a key: CRC16 (XMODEM) of the key modulo
// 16384, where a non-empty {hash tag} stands for the whole key. Keys with
// the same tag share a slot, which is how a script may touch several keys.
#pragma once

#include <QByteArray>

namespace collective {

constexpr int clusterSlotCount = 16384;

// CRC16-CCITT as Redis Cluster uses it: polynomial 0x1021, initial value 0,
// no reflection. crc16("123456789") is 0x31C3.
quint16 crc16(const QByteArray &data);

// The part of a key that is hashed: the text between the first '{' and the
// next '}' when that text is not empty, otherwise the whole key.
QByteArray hashTagOf(const QByteArray &key);

int hashSlotOf(const QByteArray &key);

} // namespace collective
