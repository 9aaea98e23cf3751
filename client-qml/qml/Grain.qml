// A faint film grain over the room, as in the web page. An 8-bit screen has
// only about a dozen shades between the room's darkest and lightest black,
// so its gradients show rings; the grain dithers them away. grain.png is a
// 160x160 tile of uniform grey noise, repeated as a plain image.
import QtQuick

Image {
    // Strength of the grain, from 0 to 1.
    property real strength: 0.05

    source: "grain.png"
    fillMode: Image.Tile
    opacity: strength
    smooth: false
}
