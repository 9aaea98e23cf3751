// Per-address admission (see admission.h).
#include "connections/admission.h"

#include <QRandomGenerator>

namespace collective {

namespace {

constexpr qint64 minuteMs = 60000;

} // namespace

Admission::Admission(const AdmissionLimits &limits)
    : m_limits(limits), m_hashSeed(size_t(QRandomGenerator::system()->generate64()))
{
}

quint64 Admission::keyOf(const QHostAddress &address) const
{
    // An IPv4 client reached through an IPv6 socket counts as its IPv4 self.
    bool isV4 = false;
    const quint32 v4 = address.toIPv4Address(&isV4);
    if (isV4)
        return qHash(v4, m_hashSeed);
    const Q_IPV6ADDR v6 = address.toIPv6Address();
    return qHashBits(v6.c, sizeof v6.c, m_hashSeed);
}

Admission::Verdict Admission::admit(const QHostAddress &address, qint64 nowMs)
{
    const quint64 key = keyOf(address);
    Shard &shard = shardFor(key);
    QMutexLocker locker(&shard.mutex);
    Entry &entry = shard.entries[key];

    if (nowMs - entry.minuteStartMs >= minuteMs) {
        entry.minuteStartMs = nowMs;
        entry.newThisMinute = 0;
    }

    Verdict verdict = Verdict::Admitted;
    if (entry.open >= m_limits.maxConnectionsPerAddress)
        verdict = Verdict::TooManyOpen;
    else if (entry.newThisMinute >= m_limits.maxNewConnectionsPerMinute)
        verdict = Verdict::TooManyNew;

    if (verdict == Verdict::Admitted) {
        ++entry.open;
        ++entry.newThisMinute;
    }
    return verdict;
}

void Admission::release(quint64 key)
{
    Shard &shard = shardFor(key);
    QMutexLocker locker(&shard.mutex);
    auto it = shard.entries.find(key);
    if (it != shard.entries.end() && it->open > 0)
        --it->open;
}

void Admission::purge(qint64 nowMs)
{
    // An entry with nothing open is kept until its minute ends, or closing
    // and reopening would reset the rate limit.
    for (Shard &shard : m_shards) {
        QMutexLocker locker(&shard.mutex);
        shard.entries.removeIf([nowMs](const QHash<quint64, Entry>::iterator &it) {
            return it->open == 0 && nowMs - it->minuteStartMs >= minuteMs;
        });
    }
}

int Admission::trackedAddresses() const
{
    int count = 0;
    for (const Shard &shard : m_shards) {
        QMutexLocker locker(&shard.mutex);
        count += int(shard.entries.size());
    }
    return count;
}

} // namespace collective
