// Chronos, the time engine: it integrates this node's witnesses over time
// and, every tick, hands the whole witness-seconds it owes to the store.
//
// The integral is exact between count changes: each change first books the
// time the old count was held. A tick then books the rest up to now, so a
// late tick adds more time instead of losing any, and N witnesses held for T
// seconds add N*T. Fractions of a second are carried to the next tick, never
// dropped.
//
// Ticks fall on multiples of the interval on the wall clock, so nodes whose
// clocks agree tick in the same instant and all witnesses watch the counter
// move together, whichever node holds them. Only the moment of a tick comes
// from the wall clock, while the time booked comes from the monotonic one.
#pragma once

#include "chronos/clock.h"

#include <QLoggingCategory>
#include <QObject>
#include <QTimer>

namespace collective {

Q_DECLARE_LOGGING_CATEGORY(lcChronos)

struct TickReport
{
    qint64 tick = 0;          // this node's tick number, from 1
    qint64 addedSeconds = 0;  // whole witness-seconds this tick owes the total
    qint64 intervalMs = 0;    // time since the previous tick
    qint64 driftMs = 0;       // intervalMs minus the nominal interval
};

struct ChronosStats
{
    qint64 ticks = 0;
    qint64 lastTickAtMs = -1;        // clock time of the last tick, -1 before the first
    qint64 lastTickDurationUs = 0;   // how long the last tick's handlers took
    qint64 lastDriftMs = 0;
    int tickIntervalMs = 0;
};

// Returns the milliseconds from `wallMs` to the next multiple of `intervalMs`
// since the Unix epoch that is more than half an interval away. The margin
// stops a timer that fires just before its boundary from ticking twice.
qint64 msUntilNextTick(qint64 wallMs, qint64 intervalMs);

class Chronos : public QObject
{
    Q_OBJECT

public:
    Chronos(const MonotonicClock *clock, int tickIntervalMs, QObject *parent = nullptr);

    // Starts the tick timer. The first tick comes at the first boundary more
    // than half an interval away.
    void start();
    void stop();

    // Books the time the previous count was held, then switches to `count`.
    void setWitnessCount(qint64 count);
    qint64 witnessCount() const { return m_witnesses; }

    // Books time up to now and emits tickCompleted. The timer calls it; tests
    // call it directly with a manual clock.
    void tick();

    // Books time up to now and returns the whole seconds owed, keeping the
    // fraction; for a final flush at shutdown. Does not count as a tick.
    qint64 takeOwedSeconds();

    ChronosStats stats() const { return m_stats; }
    void recordTickDuration(qint64 microseconds) { m_stats.lastTickDurationUs = microseconds; }

Q_SIGNALS:
    void tickCompleted(const collective::TickReport &report);

private:
    void bookElapsed();
    void scheduleNextTick();

    const MonotonicClock *m_clock;
    QTimer m_timer;
    qint64 m_witnesses = 0;
    qint64 m_bookedUntilMs = 0;       // the clock time booked so far
    qint64 m_owedWitnessMs = 0;       // witness-milliseconds not yet handed out
    qint64 m_previousTickMs = 0;
    ChronosStats m_stats;
};

} // namespace collective

Q_DECLARE_METATYPE(collective::TickReport)
