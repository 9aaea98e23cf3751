// collective-witness: the fullscreen gallery kiosk of The Collective.
//
// Wiring: LobbyConnection (the socket) feeds CollectiveModel (the figures),
// which the QML scene in qml/ draws. Optional helpers write the model to a
// state file, save a screenshot and ask the desktop to keep the screen on.
// `collective-witness --help` lists the options; packaging/kiosk/README.md
// explains a gallery installation.
#include "collectivemodel.h"
#include "keepawake.h"
#include "lobbyconnection.h"
#include "screenshot.h"
#include "statefilewriter.h"
#include "witnesslog.h"
#include "witnessoptions.h"

#include <QGuiApplication>
#include <QQmlEngine>
#include <QQuickView>
#include <QScreen>
#include <QtQml/qqmlextensionplugin.h>

#include <cstdio>

Q_IMPORT_QML_PLUGIN(Collective_WitnessPlugin)

using namespace collective::witness;

namespace {

int failAtStart(const QString &message)
{
    std::fprintf(stderr, "collective-witness: %s\n", qUtf8Printable(message));
    return 2;
}

// Returns the screen for --screen, or null when the index is out of range.
QScreen *chooseScreen(int index)
{
    const QList<QScreen *> screens = QGuiApplication::screens();
    if (index < 0)
        return QGuiApplication::primaryScreen();
    return index < screens.size() ? screens.at(index) : nullptr;
}

void showKiosk(QQuickView &view, QScreen *screen)
{
    // No title bar or borders, above a desktop if there is one, and no
    // pointer: a gallery visitor should see only the Collective.
    view.setFlags(Qt::Window | Qt::FramelessWindowHint);
    view.setScreen(screen);
    view.setGeometry(screen->geometry());
    view.showFullScreen();
    QGuiApplication::setOverrideCursor(Qt::BlankCursor);
}

} // namespace

int main(int argc, char *argv[])
{
    QGuiApplication app(argc, argv);
    QGuiApplication::setApplicationName(QStringLiteral("collective-witness"));
    QGuiApplication::setApplicationVersion(QStringLiteral(COLLECTIVE_VERSION));
    QGuiApplication::setApplicationDisplayName(QStringLiteral("The Collective"));

    QString error;
    const auto options = parseWitnessOptions(QGuiApplication::arguments(), &error);
    if (!options)
        return failAtStart(error);

    QScreen *screen = chooseScreen(options->screen);
    if (!screen) {
        return failAtStart(QStringLiteral("--screen / COLLECTIVE_SCREEN: there is no screen %1; this machine has %2 "
                                          "(0 to %3)")
                               .arg(options->screen)
                               .arg(QGuiApplication::screens().size())
                               .arg(QGuiApplication::screens().size() - 1));
    }

    CollectiveModel model;
    ConnectionSettings connectionSettings;
    connectionSettings.url = options->url;
    connectionSettings.reconnect = options->reconnect;
    LobbyConnection connection(connectionSettings);
    QObject::connect(&connection, &LobbyConnection::stateChanged, &model, &CollectiveModel::setConnectionState);
    QObject::connect(&connection, &LobbyConnection::lobbyEventReceived, &model, &CollectiveModel::applyLobbyEvent);

    std::unique_ptr<StateFileWriter> stateFile;
    if (!options->stateFile.isEmpty()) {
        stateFile = std::make_unique<StateFileWriter>(options->stateFile, &model);
        if (!stateFile->open(&error))
            return failAtStart(QStringLiteral("--state-file / COLLECTIVE_STATE_FILE: %1").arg(error));
    }

    QQuickView view;
    view.setTitle(QStringLiteral("The Collective"));
    view.setColor(QColor(0x06, 0x06, 0x08));
    view.setResizeMode(QQuickView::SizeRootObjectToView);
    view.engine()->addImportPath(QStringLiteral("qrc:/qt/qml"));
    view.setInitialProperties({
        {QStringLiteral("collective"), QVariant::fromValue(static_cast<QObject *>(&model))},
        {QStringLiteral("reducedMotion"), options->reducedMotion},
    });
    view.setSource(QUrl(QStringLiteral("qrc:/qt/qml/Collective/Witness/Main.qml")));
    if (view.status() != QQuickView::Ready) {
        for (const QQmlError &qmlError : view.errors())
            qCCritical(lcWitness, "%s", qUtf8Printable(qmlError.toString()));
        return 1;
    }

    KeepAwake keepAwake;
    if (options->windowed) {
        view.setScreen(screen);
        view.resize(options->windowSize);
        view.show();
    } else {
        showKiosk(view, screen);
        keepAwake.request();
    }
    qCInfo(lcWitness, "Showing the Collective %s on screen %d (%s), reduced motion %s.",
           options->windowed ? "in a window" : "full screen", static_cast<int>(QGuiApplication::screens().indexOf(screen)),
           qUtf8Printable(screen->name()), options->reducedMotion ? "on" : "off");

    std::unique_ptr<WindowScreenshot> screenshot;
    if (!options->screenshotPath.isEmpty()) {
        screenshot = std::make_unique<WindowScreenshot>(&view, options->screenshotPath);
        screenshot->saveAfter(options->screenshotAfter);
    }

    connection.start();
    return app.exec();
}
