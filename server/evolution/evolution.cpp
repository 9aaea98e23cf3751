// Milestone conditions; the rules are described in protocol/catalogue.h.
#include "evolution/evolution.h"

#include <QJsonArray>

namespace collective {

using protocol::CompoundRule;
using protocol::Milestone;
using protocol::MilestoneKind;

Evolution::Evolution(const protocol::Catalogue &catalogue) : m_catalogue(catalogue) {}

void Evolution::begin(const GlobalState &state)
{
    m_lastPeak = state.peakConnections;
}

QStringList Evolution::observe(const GlobalState &state, qint64 nowMs)
{
    m_peakRose = state.peakConnections > m_lastPeak;
    m_lastPeak = qMax(m_lastPeak, state.peakConnections);

    QStringList candidates;
    for (const Milestone &milestone : m_catalogue.milestones()) {
        // Sustained runs are tracked for every milestone, unlocked or not, so
        // the progress figures stay true.
        const bool holds = conditionHolds(milestone, state, nowMs);
        if (holds)
            m_reached.insert(milestone.id);
        if (m_reached.contains(milestone.id) && !state.unlockedMilestones.contains(milestone.id))
            candidates.append(milestone.id);
    }
    return candidates;
}

bool Evolution::conditionHolds(const Milestone &milestone, const GlobalState &state, qint64 nowMs)
{
    switch (milestone.kind) {
    case MilestoneKind::Concurrent:
        return state.concurrentConnections >= milestone.threshold;
    case MilestoneKind::Time:
        return state.totalConnectionSeconds >= milestone.threshold;
    case MilestoneKind::Compound:
        break;
    }

    const CompoundRule &rule = *milestone.rule;
    if (rule.type == CompoundRule::Type::NewPeak)
        return m_peakRose && state.peakConnections >= rule.minPeak;

    if (state.concurrentConnections < rule.minConcurrent) {
        m_sustainedSince.remove(milestone.id);
        return false;
    }
    const qint64 since = m_sustainedSince.value(milestone.id, -1);
    if (since < 0) {
        m_sustainedSince.insert(milestone.id, nowMs);
        return false;
    }
    return nowMs - since >= rule.durationSeconds * 1000;
}

double Evolution::progressOf(const Milestone &milestone, const GlobalState &state, qint64 nowMs) const
{
    if (state.unlockedMilestones.contains(milestone.id))
        return 1.0;

    double ratio = 0.0;
    switch (milestone.kind) {
    case MilestoneKind::Concurrent:
        ratio = double(state.concurrentConnections) / double(milestone.threshold);
        break;
    case MilestoneKind::Time:
        ratio = double(state.totalConnectionSeconds) / double(milestone.threshold);
        break;
    case MilestoneKind::Compound: {
        const CompoundRule &rule = *milestone.rule;
        if (rule.type == CompoundRule::Type::NewPeak) {
            ratio = double(state.peakConnections) / double(rule.minPeak);
        } else {
            const qint64 since = m_sustainedSince.value(milestone.id, -1);
            ratio = since < 0 ? 0.0 : double(nowMs - since) / double(rule.durationSeconds * 1000);
        }
        break;
    }
    }
    // Not unlocked yet, so never show it complete.
    return qBound(0.0, ratio, 0.999);
}

QJsonObject Evolution::progress(const GlobalState &state, qint64 nowMs) const
{
    QJsonArray milestones;
    for (const Milestone &milestone : m_catalogue.milestones()) {
        milestones.append(QJsonObject{
                {QStringLiteral("id"), milestone.id},
                {QStringLiteral("name"), milestone.name},
                {QStringLiteral("kind"), protocol::milestoneKindName(milestone.kind)},
                {QStringLiteral("threshold"), milestone.threshold},
                {QStringLiteral("unlocked"), state.unlockedMilestones.contains(milestone.id)},
                {QStringLiteral("progress"), progressOf(milestone, state, nowMs)},
        });
    }
    return QJsonObject{
            {QStringLiteral("unlocked"), qint64(state.unlockedMilestones.size())},
            {QStringLiteral("total"), qint64(m_catalogue.milestones().size())},
            {QStringLiteral("milestones"), milestones},
    };
}

} // namespace collective
