#include "statefilewriter.h"

#include "collectivemodel.h"
#include "witnesslog.h"

#include <QJsonDocument>

namespace collective::witness {

StateFileWriter::StateFileWriter(const QString &path, const CollectiveModel *model, QObject *parent)
    : QObject(parent)
    , m_model(model)
    , m_file(path)
{
    connect(model, &CollectiveModel::stateChanged, this, &StateFileWriter::writeState);
}

bool StateFileWriter::open(QString *error)
{
    if (!m_file.open(QIODevice::WriteOnly | QIODevice::Truncate | QIODevice::Text)) {
        *error = QStringLiteral("cannot open the state file '%1' for writing: %2")
                     .arg(m_file.fileName(), m_file.errorString());
        return false;
    }
    writeState();
    return true;
}

void StateFileWriter::writeState()
{
    if (!m_file.isOpen())
        return;

    const QByteArray line = QJsonDocument(m_model->toJson()).toJson(QJsonDocument::Compact) + '\n';
    if (line == m_lastLine)
        return;
    if (m_file.size() + line.size() > m_maxBytes)
        rotate();

    if (m_file.write(line) != line.size() || !m_file.flush()) {
        if (!m_failed)
            qCWarning(lcWitness, "Failed to write the state file '%s': %s. Later failures are not logged.",
                      qUtf8Printable(m_file.fileName()), qUtf8Printable(m_file.errorString()));
        m_failed = true;
        return;
    }
    m_failed = false;
    m_lastLine = line;
}

void StateFileWriter::rotate()
{
    const QString path = m_file.fileName();
    const QString previous = path + QStringLiteral(".1");
    m_file.close();
    QFile::remove(previous);
    if (!QFile::rename(path, previous))
        qCWarning(lcWitness, "Failed to rename the full state file '%s'; it is emptied instead.", qUtf8Printable(path));
    if (!m_file.open(QIODevice::WriteOnly | QIODevice::Truncate | QIODevice::Text))
        qCWarning(lcWitness, "Failed to reopen the state file '%s': %s.", qUtf8Printable(path),
                  qUtf8Printable(m_file.errorString()));
}

} // namespace collective::witness
