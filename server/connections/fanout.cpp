// The fan-out pass: the broadcast frames each connection gets (see fanout.h).
#include "connections/fanout.h"

#include <algorithm>

namespace collective {

FanoutPass::FanoutPass(const QList<WireFrame> &queued, std::size_t connections)
{
    join(queued, 0, connections);
}

void FanoutPass::join(const QList<WireFrame> &late, std::size_t index, std::size_t connections)
{
    if (late.isEmpty())
        return;
    for (const WireFrame &frame : late)
        m_parts.push_back(Part{frame, index, connections});
    m_end = std::max(m_end, connections);
    joinAll();
}

void FanoutPass::joinAll()
{
    m_all.clear();
    for (const Part &part : m_parts)
        m_all.append(part.frame.bytes);
}

QByteArrayView FanoutPass::bytesFor(std::size_t index, quint64 welcomeVersion, qsizetype *frames)
{
    const auto gets = [index, welcomeVersion](const Part &part) {
        return part.from <= index && index < part.to && welcomeVersion < part.frame.version;
    };

    // The common case: a connection visited by the whole pass gets it all.
    const qsizetype count = std::count_if(m_parts.cbegin(), m_parts.cend(), gets);
    *frames = count;
    if (count == 0)
        return {};
    if (std::size_t(count) == m_parts.size())
        return m_all;

    m_some.clear();
    for (const Part &part : m_parts) {
        if (gets(part))
            m_some.append(part.frame.bytes);
    }
    return m_some;
}

FanoutPass FanoutPass::next() const
{
    // A part that joined at connection `from` is owed by those before it.
    FanoutPass owed;
    for (const Part &part : m_parts) {
        if (part.from > 0) {
            owed.m_parts.push_back(Part{part.frame, 0, part.from});
            owed.m_end = std::max(owed.m_end, part.from);
        }
    }
    owed.joinAll();
    return owed;
}

} // namespace collective
