// The embedded file store; its guarantees are described in embeddedstore.h.
#include "store/embeddedstore.h"

#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSaveFile>
#include <QTimer>

#include <algorithm>

namespace collective {

namespace {

constexpr int fileFormatVersion = 1;
const QString fileName = QStringLiteral("collective-state.json");

} // namespace

EmbeddedStore::EmbeddedStore(const QString &dataDir, QObject *parent)
    : StateStore(parent), m_dataDir(dataDir), m_filePath(QDir(dataDir).filePath(fileName))
{
}

void EmbeddedStore::open()
{
    // Results arrive on the next event-loop turn, as they would from a
    // network backend, so callers never depend on a synchronous answer.
    QString error;
    if (!QDir().mkpath(m_dataDir)) {
        error = QStringLiteral("cannot create the data directory %1: check COLLECTIVE_DATA_DIR and its permissions")
                        .arg(m_dataDir);
    } else if (!load(&error)) {
        // error is set by load()
    }

    if (!error.isEmpty()) {
        QTimer::singleShot(0, this, [this, error] { Q_EMIT openFailed(error); });
        return;
    }

    m_open = true;
    setReady(true);
    qCInfo(lcStore, "Embedded store opened %s: %lld seconds witnessed, peak %lld, %lld milestones unlocked.",
           qPrintable(m_filePath), m_state.totalConnectionSeconds, m_state.peakConnections,
           qint64(m_state.unlockedMilestones.size()));
    const GlobalState state = m_state;
    QTimer::singleShot(0, this, [this, state] { Q_EMIT opened(state); });
}

bool EmbeddedStore::load(QString *error)
{
    QFile file(m_filePath);
    if (!file.exists()) {
        qCInfo(lcStore, "No state file at %s: a new Collective begins.", qPrintable(m_filePath));
        return true;
    }
    if (!file.open(QIODevice::ReadOnly)) {
        *error = QStringLiteral("cannot read the state file %1: %2").arg(m_filePath, file.errorString());
        return false;
    }

    // A damaged file stops the start rather than silently starting a new
    // Collective from zero: the operator decides.
    QJsonParseError parseError;
    const QJsonDocument document = QJsonDocument::fromJson(file.readAll(), &parseError);
    const QJsonObject root = document.object();
    if (parseError.error != QJsonParseError::NoError || !document.isObject()
        || root.value(QLatin1String("version")).toInt() != fileFormatVersion) {
        *error = QStringLiteral("the state file %1 is damaged or of an unknown version; restore it from a backup, "
                                "or move it away to start a new Collective")
                         .arg(m_filePath);
        return false;
    }

    m_state.totalConnectionSeconds = qMax<qint64>(0, root.value(QLatin1String("total_connection_seconds")).toInteger());
    m_state.peakConnections = qMax<qint64>(0, root.value(QLatin1String("peak_connections")).toInteger());
    for (const QJsonValue &id : root.value(QLatin1String("unlocked_milestones")).toArray()) {
        if (id.isString() && !m_state.unlockedMilestones.contains(id.toString()))
            m_state.unlockedMilestones.append(id.toString());
    }
    return true;
}

ReportResult EmbeddedStore::apply(const NodeReport &report)
{
    // One node: the global count is this node's count.
    m_state.concurrentConnections = qMax<qint64>(0, report.liveWitnesses);
    m_state.totalConnectionSeconds += qMax<qint64>(0, report.addedSeconds);
    m_state.peakConnections = std::max({m_state.peakConnections, m_state.concurrentConnections, report.observedPeak});

    ReportResult result;
    result.reportId = report.id;
    result.reportedLive = m_state.concurrentConnections;
    for (const QString &id : report.milestoneClaims) {
        if (!m_state.unlockedMilestones.contains(id)) {
            m_state.unlockedMilestones.append(id);
            result.wonClaims.append(id);
        }
    }
    result.state = m_state;
    return result;
}

void EmbeddedStore::report(const NodeReport &report)
{
    if (!m_open) {
        qCWarning(lcStore, "A report reached the embedded store before it was open; it was dropped.");
        return;
    }

    const GlobalState before = m_state;
    const ReportResult result = apply(report);
    const bool changed = before.totalConnectionSeconds != m_state.totalConnectionSeconds
            || before.peakConnections != m_state.peakConnections
            || before.unlockedMilestones != m_state.unlockedMilestones;
    if (changed || m_saveFailing)
        save();

    QTimer::singleShot(0, this, [this, result] { Q_EMIT reportApplied(result); });
}

bool EmbeddedStore::close(const NodeReport &finalReport, int timeoutMs)
{
    Q_UNUSED(timeoutMs); // a local file write does not wait on anything
    if (!m_open)
        return false;
    apply(finalReport);
    const bool saved = save();
    m_open = false;
    setReady(false, QStringLiteral("the store is closed"));
    return saved;
}

bool EmbeddedStore::save()
{
    const QJsonObject root{
        {QStringLiteral("version"), fileFormatVersion},
        {QStringLiteral("total_connection_seconds"), m_state.totalConnectionSeconds},
        {QStringLiteral("peak_connections"), m_state.peakConnections},
        {QStringLiteral("unlocked_milestones"), QJsonArray::fromStringList(m_state.unlockedMilestones)},
        {QStringLiteral("saved_at"), QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs)},
    };

    QSaveFile file(m_filePath);
    const bool saved = file.open(QIODevice::WriteOnly)
            && file.write(QJsonDocument(root).toJson(QJsonDocument::Indented)) >= 0 && file.commit();

    // The state stays in memory, so a failing disk loses nothing until the
    // process ends; readiness tells the operator.
    if (!saved)
        recordError();
    if (!saved && !m_saveFailing) {
        m_saveFailing = true;
        const QString reason = QStringLiteral("cannot write the state file %1: %2").arg(m_filePath, file.errorString());
        qCCritical(lcStore, "%s. Free space or fix permissions; the state is kept in memory meanwhile.",
                   qPrintable(reason));
        setReady(false, reason);
    } else if (saved && m_saveFailing) {
        m_saveFailing = false;
        qCInfo(lcStore, "The state file %s is written again.", qPrintable(m_filePath));
        setReady(true);
    }
    return saved;
}

} // namespace collective
