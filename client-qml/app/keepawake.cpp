#include "keepawake.h"

#include "witnesslog.h"

#include <QDBusConnection>
#include <QDBusConnectionInterface>
#include <QDBusPendingCallWatcher>
#include <QDBusPendingReply>
#include <QDBusInterface>

namespace collective::witness {

namespace {
const QString screenSaverService = QStringLiteral("org.freedesktop.ScreenSaver");
}

KeepAwake::KeepAwake(QObject *parent)
    : QObject(parent)
{
}

void KeepAwake::request()
{
    QDBusConnection bus = QDBusConnection::sessionBus();
    if (!bus.isConnected() || !bus.interface() || !bus.interface()->isServiceRegistered(screenSaverService)) {
        qCInfo(lcWitness, "No screen saver service on the session bus, so the kiosk cannot keep the screen on "
                          "by itself; the compositor or display settings decide (see packaging/kiosk/README.md).");
        return;
    }

    QDBusInterface screenSaver(screenSaverService, QStringLiteral("/org/freedesktop/ScreenSaver"),
                               screenSaverService, bus);
    const QDBusPendingCall call = screenSaver.asyncCall(QStringLiteral("Inhibit"),
                                                        QStringLiteral("collective-witness"),
                                                        QStringLiteral("Gallery kiosk showing The Collective"));
    auto *watcher = new QDBusPendingCallWatcher(call, this);
    connect(watcher, &QDBusPendingCallWatcher::finished, this, [](QDBusPendingCallWatcher *finished) {
        const QDBusPendingReply<uint> reply = *finished;
        if (reply.isError())
            qCWarning(lcWitness, "The screen saver service refused to stay off: %s.",
                      qUtf8Printable(reply.error().message()));
        else
            qCInfo(lcWitness, "The screen saver is inhibited while the kiosk runs.");
        finished->deleteLater();
    });
}

} // namespace collective::witness
