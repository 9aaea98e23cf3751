// A monotonic clock that tests can replace. Chronos and Evolution measure
// elapsed time with it, never with the wall clock, so a change of the system
// time can neither add nor remove witnessed seconds.
#pragma once

#include <QElapsedTimer>

namespace collective {

class MonotonicClock
{
public:
    virtual ~MonotonicClock() = default;

    // Milliseconds since an arbitrary fixed point; never decreases.
    virtual qint64 nowMs() const = 0;
};

// The real clock: QElapsedTimer, which is CLOCK_MONOTONIC on Linux.
class SteadyClock final : public MonotonicClock
{
public:
    SteadyClock() { m_timer.start(); }
    qint64 nowMs() const override { return m_timer.elapsed(); }

private:
    QElapsedTimer m_timer;
};

// A clock that moves only when told to, for tests.
class ManualClock final : public MonotonicClock
{
public:
    qint64 nowMs() const override { return m_nowMs; }
    void advance(qint64 ms) { m_nowMs += ms; }

private:
    qint64 m_nowMs = 0;
};

} // namespace collective
