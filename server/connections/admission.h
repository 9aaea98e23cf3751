// Admission control: limits on what one source address may open, checked
// when a TCP connection is accepted, before any HTTP is parsed.
//
//   concurrent connections per address   COLLECTIVE_MAX_CONNECTIONS_PER_ADDRESS
//   new connections per address a minute COLLECTIVE_MAX_NEW_CONNECTIONS_PER_MINUTE
//
// The defaults are generous because a gallery, a school or a campus can put
// thousands of witnesses behind one NAT address; they stop one machine from
// taking every descriptor, not a crowd.
//
// Privacy: addresses are never stored. The table is keyed by a 64-bit keyed
// hash of the address (a random key per process), held only while that
// address has connections open or within the current minute, never logged.
#pragma once

#include <QHostAddress>
#include <QMutex>
#include <QHash>

#include <array>

namespace collective {

struct AdmissionLimits
{
    int maxConnectionsPerAddress = 5000;
    int maxNewConnectionsPerMinute = 3000;
};

class Admission
{
public:
    enum class Verdict { Admitted, TooManyOpen, TooManyNew };

    explicit Admission(const AdmissionLimits &limits);

    // Decides for a new connection from `address` at monotonic time nowMs.
    // An admitted connection must be released once when it closes.
    Verdict admit(const QHostAddress &address, qint64 nowMs);
    void release(quint64 key);

    // Drops entries with nothing open whose minute has ended; call it at
    // least once a minute so the table holds only addresses in use.
    void purge(qint64 nowMs);

    // The key admit() used for `address`, for release().
    quint64 keyOf(const QHostAddress &address) const;

    // Addresses currently tracked (for tests and metrics; a count, not a list).
    int trackedAddresses() const;

private:
    struct Entry
    {
        int open = 0;
        int newThisMinute = 0;
        qint64 minuteStartMs = 0;
    };

    // Sharded so that socket threads admitting at once rarely share a lock.
    struct Shard
    {
        mutable QMutex mutex;
        QHash<quint64, Entry> entries;
    };

    Shard &shardFor(quint64 key) { return m_shards[key % m_shards.size()]; }

    const AdmissionLimits m_limits;
    const size_t m_hashSeed;
    std::array<Shard, 16> m_shards;
};

} // namespace collective
