// The parts of the store interface that every backend shares.
#include "store/statestore.h"

namespace collective {

Q_LOGGING_CATEGORY(lcStore, "collective.store")

void StateStore::setReady(bool ready, const QString &reason)
{
    if (ready == m_ready && reason == m_notReadyReason)
        return;
    m_ready = ready;
    m_notReadyReason = ready ? QString() : reason;
    Q_EMIT readinessChanged(m_ready, m_notReadyReason);
}

} // namespace collective
