// Runs the Qt Quick tests in tests/kiosk/qml against the kiosk's own QML
// module, Collective.Witness, linked in as a static plugin exactly as the
// collective-witness executable links it.
#include <QQmlEngine>
#include <QtQml/qqmlextensionplugin.h>
#include <QtQuickTest>

Q_IMPORT_QML_PLUGIN(Collective_WitnessPlugin)

class KioskQmlSetup : public QObject
{
    Q_OBJECT

public Q_SLOTS:
    void qmlEngineAvailable(QQmlEngine *engine)
    {
        // Qt 6.4 does not yet search the resource prefix of qt_add_qml_module.
        engine->addImportPath(QStringLiteral("qrc:/qt/qml"));
    }
};

QUICK_TEST_MAIN_WITH_SETUP(kiosk_qml, KioskQmlSetup)

#include "tst_kioskqml.moc"
