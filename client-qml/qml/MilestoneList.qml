// The names of the unlocked milestones as one centred paragraph, names
// separated by middle dots. Spaces inside a name do not break, so a line
// wraps only between names. The entry named by newMilestoneId lights up and
// fades back to the others' colour over 9 s; with reduced motion it does not.
import QtQuick

Column {
    id: list

    // Maps with id, name and description, in unlock order.
    property var milestones: []
    property int milestoneCount: 0
    property string newMilestoneId: ""
    property bool reducedMotion: false
    property real unit: 1
    // How far the new entry is lit, from 0 (like the others) to 1 (full ink).
    property real highlight: 0

    readonly property alias namesText: names.text

    spacing: 24 * unit

    onNewMilestoneIdChanged: {
        if (newMilestoneId === "" || reducedMotion) {
            highlight = 0
            return
        }
        lightUp.restart()
    }

    function escapeMarkup(text) {
        return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    }

    function mix(from, to, amount) {
        return Qt.rgba(from.r + (to.r - from.r) * amount, from.g + (to.g - from.g) * amount,
                       from.b + (to.b - from.b) * amount, from.a + (to.a - from.a) * amount)
    }

    function hexColor(color) {
        function twoDigits(channel) {
            var hex = Math.round(channel * 255).toString(16)
            return hex.length === 1 ? "0" + hex : hex
        }
        return "#" + twoDigits(color.a) + twoDigits(color.r) + twoDigits(color.g) + twoDigits(color.b)
    }

    Caption {
        anchors.horizontalCenter: parent.horizontalCenter
        unit: list.unit
        text: list.milestoneCount > 0
              ? "evolutions\u2003" + list.milestones.length + " of " + list.milestoneCount
              : "evolutions"
    }

    Text {
        id: names
        width: list.width
        horizontalAlignment: Text.AlignHCenter
        wrapMode: Text.WordWrap
        textFormat: Text.StyledText
        color: Theme.inkDim
        font.family: Theme.serif
        font.italic: true
        font.pixelSize: Theme.milestoneSize * list.unit
        lineHeight: 1.45
        text: {
            var parts = []
            var lit = list.hexColor(list.mix(Theme.inkDim, Theme.ink, list.highlight))
            for (var i = 0; i < list.milestones.length; ++i) {
                var entry = list.milestones[i]
                var name = list.escapeMarkup(entry.name).replace(/ /g, "\u00a0")
                if (entry.id === list.newMilestoneId && list.highlight > 0)
                    name = "<font color=\"" + lit + "\">" + name + "</font>"
                parts.push(name)
            }
            return parts.join(" \u2002\u00b7\u2002 ")
        }
    }

    SequentialAnimation {
        id: lightUp
        NumberAnimation { target: list; property: "highlight"; to: 1; duration: 400 }
        PauseAnimation { duration: 3200 }
        NumberAnimation { target: list; property: "highlight"; to: 0; duration: 5400; easing.type: Easing.OutQuad }
    }
}
