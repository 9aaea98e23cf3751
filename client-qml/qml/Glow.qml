// A soft radial light: `color` at `strength` in the centre, fading to
// nothing at the edge, with an optional cooler middle ring. Painted once per
// size or colour change, then drawn as a plain texture, so an idle scene
// costs nothing.
import QtQuick

Canvas {
    id: glow

    property color color: Theme.glow
    property real strength: 0.2
    property color middleColor: "transparent"
    property real middleStrength: 0
    // Where the middle colour sits, from 0 (centre) to 1 (edge).
    property real middleAt: 0.48

    renderStrategy: Canvas.Immediate

    onColorChanged: requestPaint()
    onStrengthChanged: requestPaint()
    onMiddleStrengthChanged: requestPaint()
    onWidthChanged: requestPaint()
    onHeightChanged: requestPaint()

    function withAlpha(base, alpha) {
        return Qt.rgba(base.r, base.g, base.b, alpha)
    }

    onPaint: {
        var context = getContext("2d")
        context.reset()
        var radius = Math.min(width, height) / 2
        if (radius <= 0)
            return
        var gradient = context.createRadialGradient(width / 2, height / 2, 0, width / 2, height / 2, radius)
        gradient.addColorStop(0, withAlpha(color, strength))
        if (middleStrength > 0)
            gradient.addColorStop(middleAt, withAlpha(middleColor, middleStrength))
        else
            gradient.addColorStop(middleAt, withAlpha(color, strength * 0.25))
        gradient.addColorStop(1, withAlpha(color, 0))
        context.fillStyle = gradient
        context.fillRect(0, 0, width, height)
    }
}
