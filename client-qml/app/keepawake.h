// Asks the desktop not to blank the screen or start a screen saver while the
// kiosk runs, where the platform offers a way to ask.
//
// On Linux the one request an application can make is Inhibit on the
// session bus's org.freedesktop.ScreenSaver service, which GNOME, KDE Plasma,
// Xfce and most X11 desktops provide. The request lasts until the kiosk
// exits and its bus connection closes.
//
// A Wayland kiosk compositor such as cage has no such service, and Qt 6.4
// offers applications no access to Wayland's idle-inhibit protocol. There the
// kiosk can do nothing. The screen stays on because cage has no blanking
// timer of its own, as long as no idle daemon (swayidle) runs beside it.
// packaging/kiosk/README.md lists the compositor, kernel and logind settings
// that keep a gallery screen on.
#pragma once

#include <QObject>

namespace collective::witness {

class KeepAwake : public QObject
{
    Q_OBJECT

public:
    explicit KeepAwake(QObject *parent = nullptr);

    // Sends the inhibit request if the session offers the service, and
    // logs what was possible. Does not block, because the reply arrives later.
    void request();
};

} // namespace collective::witness
