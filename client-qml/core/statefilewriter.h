// Appends the model's state to a file as one JSON object per line, each time
// the state changes, for tests and for operators who want a record:
//
//   {"concurrent":2,"connection":"joined","peak":2,"total_seconds":41,"unlocked":["concurrent_1"]}
//
// Each line is flushed at once, so a reader never sees half a line. A line
// is written only when it differs from the previous one. The file is emptied
// when the kiosk starts. At one line per server tick (5 s by default) the
// file grows by roughly 2 MB a day, so it is renamed to PATH.1 (replacing an
// older PATH.1) once it exceeds maxBytes and a new PATH is started.
#pragma once

#include <QFile>
#include <QObject>

namespace collective::witness {

class CollectiveModel;

class StateFileWriter : public QObject
{
    Q_OBJECT

public:
    StateFileWriter(const QString &path, const CollectiveModel *model, QObject *parent = nullptr);

    // Opens (and empties) the file and writes the first line. Returns false
    // and sets *error when the file cannot be opened.
    bool open(QString *error);

    void setMaxBytes(qint64 maxBytes) { m_maxBytes = maxBytes; }

public Q_SLOTS:
    void writeState();

private:
    void rotate();

    const CollectiveModel *m_model;
    QFile m_file;
    QByteArray m_lastLine;
    qint64 m_maxBytes = 16 * 1024 * 1024; // about a week of ticks at 5 s
    bool m_failed = false;                // a failed write is logged once
};

} // namespace collective::witness
