// Colours, fonts and sizes of the kiosk, the same palette as web/style.css.
// Sizes are in pixels at 1920x1080; the scene multiplies them by its scale.
pragma Singleton
import QtQuick

QtObject {
    readonly property color night: "#060608"
    readonly property color nightRaised: "#12131b"
    readonly property color nightMiddle: "#0a0a10"
    readonly property color ink: "#ece6da"
    readonly property color inkDim: Qt.rgba(236 / 255, 230 / 255, 218 / 255, 0.62)
    readonly property color inkFaint: Qt.rgba(236 / 255, 230 / 255, 218 / 255, 0.34)
    // The warm light of the glow, the halo and the bloom.
    readonly property color glow: Qt.rgba(1, 226 / 255, 188 / 255, 1)
    readonly property color coolGlow: Qt.rgba(120 / 255, 128 / 255, 200 / 255, 1)

    // On Debian the thin counter face (DejaVu Sans ExtraLight) comes from
    // fonts-dejavu-extra and the italic serif from fonts-liberation. Without
    // them fontconfig picks the nearest installed face.
    readonly property string sans: "DejaVu Sans"
    readonly property string serif: "Liberation Serif"

    readonly property real captionSize: 19
    readonly property real captionSpacing: 0.34 // of the font size, as letter-spacing: 0.34em
    readonly property real counterSize: 300
    readonly property real figureSize: 42
    readonly property real milestoneSize: 30

    // Durations in ms, as in web/js.
    readonly property int tweenMs: 900
    readonly property int dimMs: 1600
}
