// Origin matching (see originpolicy.h).
#include "http/originpolicy.h"

#include <QUrl>

namespace collective {

OriginPolicy::OriginPolicy(const QStringList &publicHosts, bool allowLoopback)
    : m_hosts(publicHosts), m_allowLoopback(allowLoopback)
{
}

bool OriginPolicy::allows(const QByteArray &originHeader) const
{
    if (originHeader.isEmpty())
        return true;

    // Browsers send "null" for opaque origins (a file:// page, a sandbox).
    const QUrl origin(QString::fromLatin1(originHeader), QUrl::StrictMode);
    const QString host = origin.host().toLower();
    if (!origin.isValid() || host.isEmpty())
        return false;

    if (m_allowLoopback
        && (host == QLatin1String("localhost") || host == QLatin1String("127.0.0.1") || host == QLatin1String("::1")))
        return true;

    for (const QString &pattern : m_hosts) {
        if (pattern.startsWith(QLatin1String("*."))) {
            const QString domain = pattern.mid(2);
            if (host == domain || host.endsWith(QLatin1Char('.') + domain))
                return true;
        } else if (host == pattern) {
            return true;
        }
    }
    return false;
}

} // namespace collective
