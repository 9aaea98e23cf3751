#include "screenshot.h"

#include "witnesslog.h"

#include <QDir>
#include <QFileInfo>
#include <QImage>
#include <QQuickWindow>
#include <QSaveFile>
#include <QTimer>

namespace collective::witness {

WindowScreenshot::WindowScreenshot(QQuickWindow *window, QString path, QObject *parent)
    : QObject(parent)
    , m_window(window)
    , m_path(std::move(path))
{
}

void WindowScreenshot::saveAfter(std::chrono::milliseconds delay)
{
    QTimer::singleShot(delay, this, &WindowScreenshot::save);
}

void WindowScreenshot::save()
{
    const QImage image = m_window->grabWindow();
    if (image.isNull()) {
        qCWarning(lcWitness, "Failed to grab the window for the screenshot '%s'.", qUtf8Printable(m_path));
        return;
    }

    // QSaveFile writes beside the target and renames, so a reader polling
    // for the file never opens half an image.
    QDir().mkpath(QFileInfo(m_path).absolutePath());
    QSaveFile file(m_path);
    if (!file.open(QIODevice::WriteOnly) || !image.save(&file, "PNG") || !file.commit()) {
        qCWarning(lcWitness, "Failed to save the screenshot '%s': %s.", qUtf8Printable(m_path),
                  qUtf8Printable(file.errorString()));
        return;
    }
    qCInfo(lcWitness, "Saved a %dx%d screenshot to %s.", image.width(), image.height(), qUtf8Printable(m_path));
    Q_EMIT saved(m_path);
}

} // namespace collective::witness
