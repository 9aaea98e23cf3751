// The full-screen announcement of an evolution, as in the web page.
//
// Full motion: the screen darkens, a bloom of light swells behind the name,
// three rings widen from the centre one after another, the name comes into
// focus from wide letter-spacing, and the kicker and the description rise.
// Reduced motion: the same text and a still glow, reached by a plain fade.
// Either way the announcement fades in (1.6 s), stays (6 s) and fades out
// (1.8 s). Milestones that unlock close together are shown one after
// another. Nothing runs between announcements.
import QtQuick

Item {
    id: overlay

    property bool reducedMotion: false
    property real unit: 1

    // The milestone on screen ({id, name, description}), or null.
    property var current: null
    property var pending: []

    // For tests: whether the fade and the full motion run now.
    readonly property bool fadeRunning: sequence.running
    readonly property bool fullMotionRunning: motion.running

    readonly property int fadeInMs: 1600
    readonly property int holdMs: 6000
    readonly property int fadeOutMs: 1800

    opacity: 0
    visible: opacity > 0

    // Queues the announcement of `milestone` ({id, name, description}).
    function announce(milestone) {
        pending.push(milestone)
        if (current === null)
            showNext()
    }

    function showNext() {
        if (pending.length === 0) {
            current = null
            return
        }
        current = pending.shift()
        sequence.restart()
        if (reducedMotion) {
            motion.stop()
            placeStill()
        } else {
            motion.restart()
        }
    }

    // Puts every part where the full motion ends, for the plain fade.
    function placeStill() {
        bloom.opacity = 0.7
        bloom.scale = 1
        kicker.opacity = 1
        kicker.rise = 0
        name.opacity = 1
        name.font.letterSpacing = 0
        description.opacity = 1
        description.rise = 0
    }

    // Absorbs clicks and touches while visible, so nothing below reacts.
    MouseArea {
        anchors.fill: parent
        enabled: overlay.visible
    }

    Rectangle {
        anchors.fill: parent
        color: Qt.rgba(4 / 255, 4 / 255, 7 / 255, 0.95)
    }

    Glow {
        id: bloom
        objectName: "bloom"
        anchors.centerIn: parent
        width: Math.max(parent.width, parent.height) * 1.1
        height: width
        strength: 0.24
        middleAt: 0.45
        opacity: 0
    }

    Item {
        id: halo
        objectName: "halo"
        anchors.fill: parent
        visible: !overlay.reducedMotion

        HaloRing { id: ring0; lineScale: overlay.unit }
        HaloRing { id: ring1; lineScale: overlay.unit }
        HaloRing { id: ring2; lineScale: overlay.unit }
    }

    Column {
        anchors.centerIn: parent
        width: Math.min(parent.width - 160 * overlay.unit, 1500 * overlay.unit)

        Caption {
            id: kicker
            property real rise: 0
            width: parent.width
            unit: overlay.unit
            color: Theme.inkDim
            text: "the Collective evolved"
            opacity: 0
            transform: Translate { y: kicker.rise }
        }

        Item { width: 1; height: 44 * overlay.unit }

        Text {
            id: name
            objectName: "evolutionName"
            width: parent.width
            horizontalAlignment: Text.AlignHCenter
            wrapMode: Text.WordWrap
            text: overlay.current ? overlay.current.name : ""
            color: Theme.ink
            font.family: Theme.serif
            font.italic: true
            font.pixelSize: 136 * overlay.unit
            opacity: 0
        }

        Item { width: 1; height: 44 * overlay.unit }

        Text {
            id: description
            property real rise: 0
            anchors.horizontalCenter: parent.horizontalCenter
            width: Math.min(parent.width, 900 * overlay.unit)
            horizontalAlignment: Text.AlignHCenter
            wrapMode: Text.WordWrap
            text: overlay.current ? overlay.current.description : ""
            color: Theme.inkDim
            font.family: Theme.sans
            font.weight: Font.Light
            font.pixelSize: 30 * overlay.unit
            lineHeight: 1.4
            opacity: 0
            transform: Translate { y: description.rise }
        }
    }

    // The fade that every announcement uses, and its queue step.
    SequentialAnimation {
        id: sequence
        NumberAnimation { target: overlay; property: "opacity"; to: 1; duration: overlay.fadeInMs; easing.type: Easing.InOutQuad }
        PauseAnimation { duration: overlay.holdMs }
        NumberAnimation { target: overlay; property: "opacity"; to: 0; duration: overlay.fadeOutMs; easing.type: Easing.InOutQuad }
        ScriptAction { script: overlay.showNext() }
    }

    // The full motion, started beside the fade unless motion is reduced.
    ParallelAnimation {
        id: motion

        SequentialAnimation {
            ParallelAnimation {
                NumberAnimation { target: bloom; property: "opacity"; from: 0; to: 1; duration: 1900; easing.type: Easing.OutQuad }
                NumberAnimation { target: bloom; property: "scale"; from: 0.6; to: 1.1; duration: 7500; easing.type: Easing.OutQuad }
                SequentialAnimation {
                    PauseAnimation { duration: 1900 }
                    NumberAnimation { target: bloom; property: "opacity"; to: 0.55; duration: 5600; easing.type: Easing.OutQuad }
                }
            }
        }

        SequentialAnimation {
            PauseAnimation { duration: 0 }
            RingAnimation { ring: ring0 }
        }
        SequentialAnimation {
            PauseAnimation { duration: 1100 }
            RingAnimation { ring: ring1 }
        }
        SequentialAnimation {
            PauseAnimation { duration: 2200 }
            RingAnimation { ring: ring2 }
        }

        SequentialAnimation {
            PropertyAction { target: kicker; property: "opacity"; value: 0 }
            PauseAnimation { duration: 300 }
            ParallelAnimation {
                NumberAnimation { target: kicker; property: "opacity"; to: 1; duration: 2200; easing.type: Easing.OutQuad }
                NumberAnimation { target: kicker; property: "rise"; from: 14 * overlay.unit; to: 0; duration: 2200; easing.type: Easing.OutQuad }
            }
        }
        SequentialAnimation {
            PropertyAction { target: name; property: "opacity"; value: 0 }
            PauseAnimation { duration: 500 }
            ParallelAnimation {
                NumberAnimation { target: name; property: "opacity"; to: 1; duration: 3000; easing.type: Easing.OutCubic }
                NumberAnimation { target: name; property: "font.letterSpacing"; from: name.font.pixelSize * 0.32; to: 0; duration: 3000; easing.type: Easing.OutCubic }
            }
        }
        SequentialAnimation {
            PropertyAction { target: description; property: "opacity"; value: 0 }
            PauseAnimation { duration: 1800 }
            ParallelAnimation {
                NumberAnimation { target: description; property: "opacity"; to: 1; duration: 2400; easing.type: Easing.OutQuad }
                NumberAnimation { target: description; property: "rise"; from: 14 * overlay.unit; to: 0; duration: 2400; easing.type: Easing.OutQuad }
            }
        }
    }
}
