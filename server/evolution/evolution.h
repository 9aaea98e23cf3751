// Evolution: decides which milestones of the catalogue have reached their
// condition, from the global state this node observes.
//
// A milestone whose condition held once stays a candidate until the store
// records it, even if the condition passes (ten witnesses who leave again
// still reached ten). Candidates are claimed through the store, and only the
// node whose claim wins announces the milestone.
//
// Compound rules are judged on the observations this node makes (every
// count change and every tick), so a dip shorter than the gap between two
// observations of a remote node's count can go unseen.
#pragma once

#include "protocol/catalogue.h"
#include "store/statestore.h"

#include <QHash>
#include <QJsonObject>
#include <QSet>

namespace collective {

class Evolution
{
public:
    explicit Evolution(const protocol::Catalogue &catalogue);

    // Sets the baseline from the state loaded at start: a peak reached before
    // this node started is not a new peak.
    void begin(const GlobalState &state);

    // Observes the current global state at monotonic time nowMs and returns
    // the milestones that reached their condition and are not yet unlocked,
    // in catalogue order.
    QStringList observe(const GlobalState &state, qint64 nowMs);

    // Unlocked/total and every milestone's progress from 0 to 1, for
    // /metrics/evolution.
    QJsonObject progress(const GlobalState &state, qint64 nowMs) const;

    const protocol::Catalogue &catalogue() const { return m_catalogue; }

private:
    bool conditionHolds(const protocol::Milestone &milestone, const GlobalState &state, qint64 nowMs);
    double progressOf(const protocol::Milestone &milestone, const GlobalState &state, qint64 nowMs) const;

    protocol::Catalogue m_catalogue;
    QSet<QString> m_reached;                // condition held at least once
    QHash<QString, qint64> m_sustainedSince; // id -> when the current unbroken run began
    qint64 m_lastPeak = 0;
    bool m_peakRose = false; // the peak rose in the current observation
};

} // namespace collective
