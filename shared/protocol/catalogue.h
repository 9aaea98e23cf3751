// The milestone catalogue: every evolution milestone of The Collective, read
// from shared/milestones.json, which is built into this library.
//
// Kinds:
//   concurrent  unlocks when at least `threshold` witnesses are joined at once.
//   time        unlocks when the total witnessed time reaches `threshold` seconds.
//   compound    unlocks by its rule:
//     sustained  at least `min_concurrent` witnesses without a break for
//                `duration_seconds`;
//     new_peak   the all-time peak rises to a new value of at least `min_peak`
//                (a peak already reached before the node started does not count).
#pragma once

#include <QByteArray>
#include <QList>
#include <QString>

#include <optional>

namespace collective::protocol {

enum class MilestoneKind { Concurrent, Time, Compound };

struct CompoundRule
{
    enum class Type { Sustained, NewPeak };

    Type type = Type::Sustained;
    qint64 minConcurrent = 0;   // sustained: witnesses that must stay joined
    qint64 durationSeconds = 0; // sustained: how long, without a break
    qint64 minPeak = 0;         // new_peak: the smallest peak that counts
};

struct Milestone
{
    QString id; // stable: stored in global:unlocked_milestones
    QString name;
    QString description;
    MilestoneKind kind = MilestoneKind::Concurrent;
    qint64 threshold = 0; // witnesses for concurrent and compound, seconds for time
    std::optional<CompoundRule> rule; // set for compound milestones only
};

QString milestoneKindName(MilestoneKind kind);

class Catalogue
{
public:
    // Parses a catalogue document. Returns nothing and sets *error when the
    // document is invalid: a missing field, an unknown kind, a duplicate id.
    static std::optional<Catalogue> fromJson(const QByteArray &json, QString *error);

    // The catalogue built into this library from shared/milestones.json.
    static const Catalogue &builtin();

    const QList<Milestone> &milestones() const { return m_milestones; }
    const Milestone *find(const QString &id) const;

private:
    QList<Milestone> m_milestones;
};

} // namespace collective::protocol
