// Saves the kiosk's window to a PNG image once, after a delay, and lets the
// kiosk run on. For tests, and for an installer who wants to see what a
// remote screen shows.
#pragma once

#include <QObject>
#include <QString>

#include <chrono>

class QQuickWindow;

namespace collective::witness {

class WindowScreenshot : public QObject
{
    Q_OBJECT

public:
    WindowScreenshot(QQuickWindow *window, QString path, QObject *parent = nullptr);

    void saveAfter(std::chrono::milliseconds delay);

Q_SIGNALS:
    void saved(const QString &path);

private:
    void save();

    QQuickWindow *m_window;
    QString m_path;
};

} // namespace collective::witness
