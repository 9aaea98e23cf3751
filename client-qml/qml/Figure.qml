// One secondary figure: a caption above its value, such as the peak.
import QtQuick

Column {
    id: figure

    property alias caption: label.text
    property alias valueText: value.text
    property real unit: 1

    spacing: 18 * unit

    Caption {
        id: label
        unit: figure.unit
        anchors.horizontalCenter: parent.horizontalCenter
    }

    Text {
        id: value
        anchors.horizontalCenter: parent.horizontalCenter
        color: Theme.ink
        font.family: Theme.sans
        font.weight: Font.Light
        font.pixelSize: Theme.figureSize * figure.unit
    }
}
