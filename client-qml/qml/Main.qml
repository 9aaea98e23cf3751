// The kiosk's whole screen: the witnesses now, the peak, the total time, the
// unlocked milestones and the evolution overlay, over a dark room lit from
// the centre. It reads the C++ CollectiveModel (`collective`) and keeps no
// state of its own beyond what the animations need.
//
// Layout and sizes follow web/style.css, designed at 1920x1080 and scaled by
// `unit` to the screen's shorter side.
import QtQuick
import "Format.js" as Format

Item {
    id: scene

    // The CollectiveModel: joined, hasSnapshot, concurrentConnections,
    // peakConnections, totalConnectionSeconds, unlockedMilestones,
    // milestoneCount and the evolved(milestone) signal.
    required property QtObject collective
    property bool reducedMotion: false

    readonly property real unit: Math.min(width / 1920, height / 1080)
    readonly property bool joined: collective.joined
    readonly property bool hasSnapshot: collective.hasSnapshot
    // Strength of the light behind the counter, from 0 to 1: it grows with
    // the logarithm of the witness count and is full at a million.
    readonly property real presence: Math.min(1, Math.log(collective.concurrentConnections + 1) / Math.LN10 / 6)
    property string newMilestoneId: ""

    Rectangle {
        anchors.fill: parent
        color: Theme.night
    }

    // The room: a wide ellipse of slightly raised black above the centre.
    Glow {
        x: (scene.width - width) / 2
        y: scene.height * 0.38 - height / 2
        width: scene.width * 1.25
        height: width
        color: Theme.nightRaised
        strength: 1
        middleColor: Theme.nightMiddle
        middleStrength: 1
        middleAt: 0.48
        transform: Scale { origin.x: width / 2; origin.y: height / 2; yScale: 0.62 }
    }

    // The presence: warm light that brightens as more witnesses watch and
    // dims while the kiosk waits. It changes only with the count.
    Glow {
        id: presenceLight
        objectName: "presenceLight"
        anchors.horizontalCenter: parent.horizontalCenter
        y: scene.height * 0.42 - height / 2
        width: Math.max(scene.width, scene.height) * 0.95
        height: width
        color: Theme.glow
        strength: 0.2
        middleColor: Theme.coolGlow
        middleStrength: 0.05
        middleAt: 0.48
        opacity: scene.joined ? 0.4 + 0.6 * scene.presence : 0.18
        Behavior on opacity { NumberAnimation { duration: 2400; easing.type: Easing.InOutQuad } }
    }

    Grain {
        anchors.fill: parent
    }

    Caption {
        id: title
        anchors.horizontalCenter: parent.horizontalCenter
        y: 72 * scene.unit
        unit: scene.unit
        color: Theme.inkDim
        tracking: 0.6
        text: "The Collective"
    }

    // Everything the server reports. Hidden until the first welcome; dimmed
    // while the kiosk waits for the server, so the last figures stay readable.
    Item {
        id: figures
        objectName: "figures"
        anchors.fill: parent
        visible: scene.hasSnapshot
        opacity: scene.joined ? 1 : 0.22
        Behavior on opacity { NumberAnimation { duration: Theme.dimMs; easing.type: Easing.InOutQuad } }

        Counter {
            id: witnesses
            objectName: "witnesses"
            anchors.horizontalCenter: parent.horizontalCenter
            y: scene.height * 0.415 - height / 2
            font.pixelSize: Theme.counterSize * scene.unit
            value: scene.collective.concurrentConnections
            reducedMotion: scene.reducedMotion
        }

        Caption {
            objectName: "witnessCaption"
            anchors.horizontalCenter: parent.horizontalCenter
            anchors.top: witnesses.bottom
            anchors.topMargin: 8 * scene.unit
            unit: scene.unit
            visible: scene.joined
            text: Format.witnessCaption(scene.collective.concurrentConnections)
        }

        Row {
            anchors.horizontalCenter: parent.horizontalCenter
            y: scene.height * 0.655
            spacing: 120 * scene.unit

            Figure {
                objectName: "peak"
                width: 440 * scene.unit
                unit: scene.unit
                caption: "peak"
                valueText: Format.formatCount(scene.collective.peakConnections)
            }

            Figure {
                objectName: "totalTime"
                width: 440 * scene.unit
                unit: scene.unit
                caption: "witnessed for"
                valueText: Format.formatDuration(scene.collective.totalConnectionSeconds)
            }
        }

        MilestoneList {
            objectName: "milestones"
            anchors.horizontalCenter: parent.horizontalCenter
            anchors.bottom: parent.bottom
            anchors.bottomMargin: 84 * scene.unit
            width: Math.min(parent.width - 200 * scene.unit, 1500 * scene.unit)
            unit: scene.unit
            milestones: scene.collective.unlockedMilestones
            milestoneCount: scene.collective.milestoneCount
            newMilestoneId: scene.newMilestoneId
            reducedMotion: scene.reducedMotion
        }
    }

    // While the kiosk waits: one quiet line where the caption under the
    // counter was, or in the middle of the room before the first welcome.
    Caption {
        id: waiting
        objectName: "waiting"
        anchors.horizontalCenter: parent.horizontalCenter
        y: scene.hasSnapshot ? witnesses.y + witnesses.height + 8 * scene.unit : scene.height * 0.5 - height / 2
        unit: scene.unit
        color: Theme.inkDim
        text: "waiting for the Collective"
        opacity: scene.joined ? 0 : 1
        visible: opacity > 0
        Behavior on opacity { NumberAnimation { duration: Theme.dimMs; easing.type: Easing.InOutQuad } }
    }

    EvolutionOverlay {
        id: overlay
        objectName: "evolution"
        anchors.fill: parent
        unit: scene.unit
        reducedMotion: scene.reducedMotion
    }

    Connections {
        target: scene.collective
        function onEvolved(milestone) {
            scene.newMilestoneId = milestone.id
            overlay.announce(milestone)
        }
    }
}
