// The rule for which browser origins may open a WebSocket, as Phoenix's check_origin
// decides: the host of the Origin header must be one of the public hosts
// (PHX_HOST; "*.example.org" matches its subdomains), or, in dev, a
// loopback name. A request without an Origin header does not come from a
// browser page and is allowed; CORS-style origin checks only protect
// browsers from being used by other sites.
#pragma once

#include <QByteArray>
#include <QStringList>

namespace collective {

class OriginPolicy
{
public:
    OriginPolicy() = default;
    OriginPolicy(const QStringList &publicHosts, bool allowLoopback);

    bool allows(const QByteArray &originHeader) const;

private:
    QStringList m_hosts;
    bool m_allowLoopback = true;
};

} // namespace collective
