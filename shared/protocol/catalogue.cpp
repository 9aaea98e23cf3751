// Parsing and validation of the milestone catalogue (format in catalogue.h).
#include "protocol/catalogue.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QSet>

namespace collective::protocol {

namespace {

std::optional<MilestoneKind> parseKind(const QString &name)
{
    if (name == QLatin1String("concurrent"))
        return MilestoneKind::Concurrent;
    if (name == QLatin1String("time"))
        return MilestoneKind::Time;
    if (name == QLatin1String("compound"))
        return MilestoneKind::Compound;
    return std::nullopt;
}

std::optional<CompoundRule> parseRule(const QJsonObject &object, QString *error)
{
    const QString type = object.value(QLatin1String("type")).toString();
    CompoundRule rule;
    if (type == QLatin1String("sustained")) {
        rule.type = CompoundRule::Type::Sustained;
        rule.minConcurrent = object.value(QLatin1String("min_concurrent")).toInteger(-1);
        rule.durationSeconds = object.value(QLatin1String("duration_seconds")).toInteger(-1);
        if (rule.minConcurrent < 1 || rule.durationSeconds < 1) {
            *error = QStringLiteral("a sustained rule needs min_concurrent and duration_seconds of at least 1");
            return std::nullopt;
        }
        return rule;
    }
    if (type == QLatin1String("new_peak")) {
        rule.type = CompoundRule::Type::NewPeak;
        rule.minPeak = object.value(QLatin1String("min_peak")).toInteger(-1);
        if (rule.minPeak < 1) {
            *error = QStringLiteral("a new_peak rule needs min_peak of at least 1");
            return std::nullopt;
        }
        return rule;
    }
    *error = QStringLiteral("unknown rule type '%1' (expected sustained or new_peak)").arg(type);
    return std::nullopt;
}

std::optional<Milestone> parseMilestone(const QJsonObject &object, QString *error)
{
    static const QRegularExpression idPattern(QStringLiteral("^[a-z0-9_]+$"));

    Milestone milestone;
    milestone.id = object.value(QLatin1String("id")).toString();
    milestone.name = object.value(QLatin1String("name")).toString();
    milestone.description = object.value(QLatin1String("description")).toString();
    milestone.threshold = object.value(QLatin1String("threshold")).toInteger(0);

    if (!idPattern.match(milestone.id).hasMatch()) {
        *error = QStringLiteral("milestone id '%1' is missing or not lower-case letters, digits and _")
                         .arg(milestone.id);
        return std::nullopt;
    }
    if (milestone.name.isEmpty() || milestone.description.isEmpty()) {
        *error = QStringLiteral("milestone '%1' needs a name and a description").arg(milestone.id);
        return std::nullopt;
    }
    if (milestone.threshold < 1) {
        *error = QStringLiteral("milestone '%1' needs a threshold of at least 1").arg(milestone.id);
        return std::nullopt;
    }

    const auto kind = parseKind(object.value(QLatin1String("kind")).toString());
    if (!kind) {
        *error = QStringLiteral("milestone '%1' has an unknown kind (expected concurrent, time or compound)")
                         .arg(milestone.id);
        return std::nullopt;
    }
    milestone.kind = *kind;

    if (milestone.kind == MilestoneKind::Compound) {
        QString ruleError;
        milestone.rule = parseRule(object.value(QLatin1String("rule")).toObject(), &ruleError);
        if (!milestone.rule) {
            *error = QStringLiteral("milestone '%1': %2").arg(milestone.id, ruleError);
            return std::nullopt;
        }
    }
    return milestone;
}

} // namespace

QString milestoneKindName(MilestoneKind kind)
{
    switch (kind) {
    case MilestoneKind::Concurrent:
        return QStringLiteral("concurrent");
    case MilestoneKind::Time:
        return QStringLiteral("time");
    case MilestoneKind::Compound:
        return QStringLiteral("compound");
    }
    return QString();
}

std::optional<Catalogue> Catalogue::fromJson(const QByteArray &json, QString *error)
{
    QJsonParseError parseError;
    const QJsonDocument document = QJsonDocument::fromJson(json, &parseError);
    if (parseError.error != QJsonParseError::NoError) {
        *error = QStringLiteral("the catalogue is not valid JSON: %1").arg(parseError.errorString());
        return std::nullopt;
    }

    const QJsonArray entries = document.object().value(QLatin1String("milestones")).toArray();
    if (entries.isEmpty()) {
        *error = QStringLiteral("the catalogue has no 'milestones' array");
        return std::nullopt;
    }

    Catalogue catalogue;
    QSet<QString> seen;
    for (const QJsonValue &entry : entries) {
        auto milestone = parseMilestone(entry.toObject(), error);
        if (!milestone)
            return std::nullopt;
        if (seen.contains(milestone->id)) {
            *error = QStringLiteral("milestone id '%1' appears twice").arg(milestone->id);
            return std::nullopt;
        }
        seen.insert(milestone->id);
        catalogue.m_milestones.append(std::move(*milestone));
    }
    return catalogue;
}

const Catalogue &Catalogue::builtin()
{
    // The built-in file is checked by the catalogue tests, so a broken file
    // fails the build's tests long before it could fail here.
    static const Catalogue catalogue = [] {
        QFile file(QStringLiteral(":/collective/milestones.json"));
        if (!file.open(QIODevice::ReadOnly))
            qFatal("The built-in milestone catalogue is missing from the binary.");
        QString error;
        auto parsed = fromJson(file.readAll(), &error);
        if (!parsed)
            qFatal("The built-in milestone catalogue is invalid: %s", qPrintable(error));
        return *parsed;
    }();
    return catalogue;
}

const Milestone *Catalogue::find(const QString &id) const
{
    for (const Milestone &milestone : m_milestones) {
        if (milestone.id == id)
            return &milestone;
    }
    return nullptr;
}

} // namespace collective::protocol
