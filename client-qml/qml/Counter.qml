// A number that glides to each new value (900 ms, ease-out cubic) and jumps
// when motion is reduced or when it shows its first value. The animation
// runs only while the value moves.
import QtQuick
import "Format.js" as Format

Text {
    id: counter

    // The exact value to show; set it and the text follows.
    property real value: 0
    property bool reducedMotion: false
    // The value on screen, fractional while it moves.
    property real shownValue: 0
    readonly property bool moving: tween.running

    property bool hasShownValue: false

    text: Format.formatCount(shownValue)
    color: Theme.ink
    font.family: Theme.sans
    font.weight: Font.ExtraLight
    horizontalAlignment: Text.AlignHCenter

    onValueChanged: {
        if (!hasShownValue || reducedMotion) {
            jumpTo(value)
            return
        }
        tween.from = shownValue
        tween.to = value
        tween.restart()
    }

    function jumpTo(target) {
        tween.stop()
        shownValue = target
        hasShownValue = true
    }

    NumberAnimation {
        id: tween
        target: counter
        property: "shownValue"
        duration: Theme.tweenMs
        easing.type: Easing.OutCubic
    }
}
