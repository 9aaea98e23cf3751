// One ring of the evolution halo: it widens from a point to past the screen
// while it brightens and fades (6.5 s).
import QtQuick

ParallelAnimation {
    id: animation

    property Item ring

    NumberAnimation { target: animation.ring; property: "scale"; from: 0.12; to: 1.55; duration: 6500; easing.type: Easing.OutCubic }
    SequentialAnimation {
        NumberAnimation { target: animation.ring; property: "opacity"; from: 0; to: 1; duration: 1170 }
        NumberAnimation { target: animation.ring; property: "opacity"; to: 0; duration: 5330; easing.type: Easing.InQuad }
    }
}
