#include "reconnectpolicy.h"

#include <QRandomGenerator>

#include <algorithm>
#include <cmath>

namespace collective::witness {

ReconnectPolicy::ReconnectPolicy(ReconnectSettings settings, RandomSource random)
    : m_settings(settings)
    , m_random(std::move(random))
{
    if (!m_random)
        m_random = [] { return QRandomGenerator::global()->generateDouble(); };
    m_settings.jitter = std::clamp(m_settings.jitter, 0.0, 0.99);
    m_settings.initialDelay = std::max(m_settings.initialDelay, std::chrono::milliseconds(1));
    m_settings.maxDelay = std::max(m_settings.maxDelay, m_settings.initialDelay);
}

std::chrono::milliseconds ReconnectPolicy::nextDelay()
{
    // Doubling stops at the cap anyway. Capping the exponent as well keeps
    // 2^n finite however long the server stays away.
    const double initial = static_cast<double>(m_settings.initialDelay.count());
    const double cap = static_cast<double>(m_settings.maxDelay.count());
    const int exponent = std::min(m_attempts, 62);
    const double base = std::min(initial * std::pow(2.0, exponent), cap);

    const double spread = std::clamp(m_random(), 0.0, 1.0) * 2.0 - 1.0;
    const double delay = base * (1.0 + m_settings.jitter * spread);

    if (m_attempts < std::numeric_limits<int>::max())
        ++m_attempts;
    return std::chrono::milliseconds(std::max<qint64>(1, std::llround(delay)));
}

void ReconnectPolicy::reset()
{
    m_attempts = 0;
}

std::chrono::milliseconds ReconnectPolicy::maxPossibleDelay() const
{
    const double cap = static_cast<double>(m_settings.maxDelay.count());
    return std::chrono::milliseconds(std::llround(cap * (1.0 + m_settings.jitter)));
}

} // namespace collective::witness
