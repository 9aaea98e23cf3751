// The small spaced capitals used for every label, as .caption in the page.
import QtQuick

Text {
    property real unit: 1
    // Letter-spacing as a fraction of the font size, like CSS em.
    property real tracking: Theme.captionSpacing

    color: Theme.inkFaint
    font.family: Theme.sans
    font.pixelSize: Theme.captionSize * unit
    font.letterSpacing: Theme.captionSize * unit * tracking
    font.capitalization: Font.AllUppercase
    // Letter-spacing also follows the last letter; the same space on the
    // left keeps a centred caption centred.
    leftPadding: font.letterSpacing
    horizontalAlignment: Text.AlignHCenter
}
