// When the kiosk tries again after it lost the Collective.
//
// The delay before attempt n (counted from 0) is
//
//     min(initialDelay * 2^n, maxDelay) * (1 + jitter * u),  u uniform in [-1, 1)
//
// so with the defaults it runs about 1 s, 2 s, 4 s, ... up to 30 s, each
// give or take 20 %. The jitter spreads the reconnects of many kiosks (and
// browsers) that lost the same server at the same moment. The policy never
// gives up: after the cap every delay stays near maxDelay. A successful join
// calls reset(), so the next loss starts again from initialDelay.
#pragma once

#include <chrono>
#include <functional>

namespace collective::witness {

struct ReconnectSettings
{
    // First delay after a loss. One second lets a restarting server bind its
    // port again without the kiosk knocking on it many times.
    std::chrono::milliseconds initialDelay{1000};
    // Cap of the doubling. 30 s keeps a gallery screen from waiting long
    // after the server is back, at one attempt per kiosk per 30 s.
    std::chrono::milliseconds maxDelay{30000};
    // Relative spread in both directions, from 0 (none) to below 1.
    double jitter = 0.2;
};

class ReconnectPolicy
{
public:
    // Returns a number uniformly distributed in [0, 1). Tests inject a fixed
    // sequence; the default draws from QRandomGenerator::global().
    using RandomSource = std::function<double()>;

    explicit ReconnectPolicy(ReconnectSettings settings = {}, RandomSource random = {});

    // Returns the delay before the next attempt and counts that attempt.
    std::chrono::milliseconds nextDelay();

    // Starts again from initialDelay; called after a successful join.
    void reset();

    // Attempts counted since the last reset.
    int attempts() const { return m_attempts; }

    const ReconnectSettings &settings() const { return m_settings; }

    // The largest delay that nextDelay() can return with these settings.
    std::chrono::milliseconds maxPossibleDelay() const;

private:
    ReconnectSettings m_settings;
    RandomSource m_random;
    int m_attempts = 0;
};

} // namespace collective::witness
