// EvolutionOverlay: the full motion (halo, bloom, focus) normally, a plain
// fade with reduced motion, and announcements queued one after another.
import QtQuick
import QtTest
import Collective.Witness

// TestCase is an invisible item, so the items under test live on a visible
// stage beside it; otherwise every child would read as not visible.
Item {
    id: stage
    width: 960
    height: 540

    TestCase {
        id: testCase
        name: "EvolutionOverlay"
        when: windowShown

        readonly property var firstLight: ({ id: "concurrent_1", name: "First Light",
                                             description: "A single witness opened their eyes." })
        readonly property var smallCircle: ({ id: "concurrent_10", name: "A Small Circle",
                                              description: "Ten witnesses watched at the same moment." })

        Component {
            id: overlayComponent
            EvolutionOverlay {
                width: stage.width
                height: stage.height
            }
        }

        function test_hiddenAndIdleAtStart() {
            var overlay = createTemporaryObject(overlayComponent, stage)
            compare(overlay.visible, false)
            compare(overlay.fadeRunning, false)
            compare(overlay.fullMotionRunning, false)
        }

        function test_fullMotionAnimatesHalo() {
            var overlay = createTemporaryObject(overlayComponent, stage, { reducedMotion: false })
            overlay.announce(firstLight)

            verify(overlay.fadeRunning)
            verify(overlay.fullMotionRunning)
            compare(findChild(overlay, "evolutionName").text, "First Light")
            // An item reads as visible only once its parents are, so the halo
            // is checked when the overlay has faded in.
            tryVerify(function() { return overlay.opacity > 0.5 }, 3000)
            verify(findChild(overlay, "halo").visible)
            verify(overlay.fullMotionRunning)
        }

        function test_reducedMotionOnlyFades() {
            var overlay = createTemporaryObject(overlayComponent, stage, { reducedMotion: true })
            overlay.announce(firstLight)

            verify(overlay.fadeRunning, "the overlay still fades in")
            compare(overlay.fullMotionRunning, false)
            // The name stands still at full strength: no focus or letter-spacing motion.
            var name = findChild(overlay, "evolutionName")
            compare(name.opacity, 1)
            compare(name.font.letterSpacing, 0)
            compare(findChild(overlay, "bloom").scale, 1)
            tryVerify(function() { return overlay.opacity > 0.5 }, 3000)
            compare(findChild(overlay, "halo").visible, false)
            compare(overlay.fullMotionRunning, false)
        }

        function test_announcementsAreQueued() {
            var overlay = createTemporaryObject(overlayComponent, stage, { reducedMotion: true })
            overlay.announce(firstLight)
            overlay.announce(smallCircle)

            compare(overlay.current.id, "concurrent_1")
            compare(overlay.pending.length, 1)

            // The first announcement lasts 9.4 s; ending it early shows the next.
            overlay.showNext()
            compare(overlay.current.id, "concurrent_10")
            compare(findChild(overlay, "evolutionName").text, "A Small Circle")
            overlay.showNext()
            compare(overlay.current, null)
        }
    }
}
