// One thin circle of warm light in the evolution halo. RingAnimation moves it.
import QtQuick

Rectangle {
    // Scene scale, for the line width. The ring's own `scale` is animated.
    property real lineScale: 1

    anchors.centerIn: parent
    width: Math.min(parent.width, parent.height) * 0.78
    height: width
    radius: width / 2
    color: "transparent"
    border.width: Math.max(1, 1.5 * lineScale)
    border.color: Qt.rgba(Theme.glow.r, Theme.glow.g, Theme.glow.b, 0.4)
    opacity: 0
    scale: 0.12
}
