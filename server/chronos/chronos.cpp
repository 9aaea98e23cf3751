// Chronos's accounting; the model is described in chronos.h.
#include "chronos/chronos.h"

#include <QDateTime>

namespace collective {

Q_LOGGING_CATEGORY(lcChronos, "collective.chronos")

qint64 msUntilNextTick(qint64 wallMs, qint64 intervalMs)
{
    // The remainder is taken so that times before 1970 also count forward.
    const qint64 intoInterval = ((wallMs % intervalMs) + intervalMs) % intervalMs;
    qint64 wait = intervalMs - intoInterval;
    if (wait <= intervalMs / 2)
        wait += intervalMs;
    return wait;
}

Chronos::Chronos(const MonotonicClock *clock, int tickIntervalMs, QObject *parent)
    : QObject(parent), m_clock(clock)
{
    m_stats.tickIntervalMs = tickIntervalMs;
    m_timer.setSingleShot(true);
    m_timer.setTimerType(Qt::PreciseTimer);
    connect(&m_timer, &QTimer::timeout, this, [this] {
        scheduleNextTick();
        tick();
    });

    m_bookedUntilMs = m_clock->nowMs();
    m_previousTickMs = m_bookedUntilMs;
}

void Chronos::start()
{
    m_bookedUntilMs = m_clock->nowMs();
    m_previousTickMs = m_bookedUntilMs;
    scheduleNextTick();
    qCInfo(lcChronos, "Chronos started: one tick every %d ms, on multiples of it on the wall clock.",
           m_stats.tickIntervalMs);
}

void Chronos::scheduleNextTick()
{
    // Each tick sets the next one from the wall clock again, so a late tick
    // or a step of the system time never shifts later ticks off the beat.
    const qint64 wait = msUntilNextTick(QDateTime::currentMSecsSinceEpoch(), m_stats.tickIntervalMs);
    m_timer.start(int(wait));
}

void Chronos::stop()
{
    m_timer.stop();
}

void Chronos::setWitnessCount(qint64 count)
{
    bookElapsed();
    m_witnesses = qMax<qint64>(0, count);
}

void Chronos::bookElapsed()
{
    const qint64 now = m_clock->nowMs();
    m_owedWitnessMs += m_witnesses * (now - m_bookedUntilMs);
    m_bookedUntilMs = now;
}

qint64 Chronos::takeOwedSeconds()
{
    bookElapsed();
    const qint64 seconds = m_owedWitnessMs / 1000;
    m_owedWitnessMs -= seconds * 1000;
    return seconds;
}

void Chronos::tick()
{
    const qint64 now = m_clock->nowMs();

    TickReport report;
    report.tick = ++m_stats.ticks;
    report.addedSeconds = takeOwedSeconds();
    report.intervalMs = now - m_previousTickMs;
    report.driftMs = report.intervalMs - m_stats.tickIntervalMs;
    m_previousTickMs = now;

    m_stats.lastTickAtMs = now;
    m_stats.lastDriftMs = report.driftMs;

    qCDebug(lcChronos, "Tick %lld: %lld witnesses, %lld seconds added, drift %lld ms.", report.tick,
            m_witnesses, report.addedSeconds, report.driftMs);
    Q_EMIT tickCompleted(report);
}

} // namespace collective
