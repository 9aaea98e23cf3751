// The embedded store: the global state in this process, saved to one JSON
// file under the data directory after every change that matters. It is the
// default when no REDIS_URL is set, and right for exactly one node.
//
// Saves go through QSaveFile: the new state is written to a temporary file,
// synced, then renamed over the old one. A crash or kill during a save
// leaves the previous complete file, so a restart resumes the last saved
// state and loses at most the one tick that was being written.
#pragma once

#include "store/statestore.h"

#include <QString>

namespace collective {

class EmbeddedStore final : public StateStore
{
    Q_OBJECT

public:
    explicit EmbeddedStore(const QString &dataDir, QObject *parent = nullptr);

    QString backendName() const override { return QStringLiteral("embedded"); }
    void open() override;
    void report(const NodeReport &report) override;
    bool close(const NodeReport &finalReport, int timeoutMs) override;

    QString filePath() const { return m_filePath; }

private:
    // Loads the file into m_state; false with *error when it exists but
    // cannot be read or parsed.
    bool load(QString *error);
    ReportResult apply(const NodeReport &report);
    bool save();

    QString m_dataDir;
    QString m_filePath;
    GlobalState m_state;
    bool m_open = false;
    bool m_saveFailing = false; // logged once per failure streak, not once per tick
};

} // namespace collective
