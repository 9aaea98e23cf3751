// Main.qml, the whole kiosk screen, driven by a stand-in for the C++
// CollectiveModel with the same properties and signal.
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
        name: "Scene"
        when: windowShown

        // One stand-in for every test, reset in init(). It outlives each
        // temporary scene, so no scene ever reads a destroyed model.
        QtObject {
            id: model
            property bool joined: false
            property bool hasSnapshot: false
            property real concurrentConnections: 0
            property real peakConnections: 0
            property real totalConnectionSeconds: 0
            property var unlockedMilestones: []
            property int milestoneCount: 16
            signal evolved(var milestone)
        }

        function init() {
            model.joined = false
            model.hasSnapshot = false
            model.concurrentConnections = 0
            model.peakConnections = 0
            model.totalConnectionSeconds = 0
            model.unlockedMilestones = []
        }

        Component {
            id: sceneComponent
            Main {
                width: stage.width
                height: stage.height
            }
        }

        function createScene(reducedMotion) {
            return createTemporaryObject(sceneComponent, stage,
                                         { collective: model, reducedMotion: reducedMotion === true })
        }

        function test_waitsQuietlyBeforeFirstWelcome() {
            var scene = createScene(false)

            compare(findChild(scene, "figures").visible, false)
            var waiting = findChild(scene, "waiting")
            compare(waiting.visible, true)
            compare(waiting.text, "waiting for the Collective")
        }

        function test_showsEveryFigureWhenJoined() {
            var scene = createScene(true)
            model.concurrentConnections = 1234567
            model.peakConnections = 2000000
            model.totalConnectionSeconds = 3 * 86400 + 4 * 3600
            model.unlockedMilestones = [{ id: "concurrent_1", name: "First Light", description: "" },
                                        { id: "time_1m", name: "First Minute", description: "" }]
            model.hasSnapshot = true
            model.joined = true

            compare(findChild(scene, "figures").visible, true)
            compare(findChild(scene, "witnesses").text, "1\u202f234\u202f567")
            compare(findChild(scene, "witnessCaption").text, "witnesses now")
            compare(findChild(scene, "peak").valueText, "2\u202f000\u202f000")
            compare(findChild(scene, "totalTime").valueText, "3 days, 4 hours")
            var names = findChild(scene, "milestones").namesText
            verify(names.indexOf("First\u00a0Light") >= 0, names)
            verify(names.indexOf("First\u00a0Minute") >= 0, names)
            tryCompare(findChild(scene, "waiting"), "visible", false, 4000)
        }

        function test_dimsFiguresWhileWaiting() {
            var scene = createScene(true)
            model.hasSnapshot = true
            model.joined = true
            tryCompare(findChild(scene, "figures"), "opacity", 1, 4000)

            model.joined = false

            tryCompare(findChild(scene, "figures"), "opacity", 0.22, 4000)
            compare(findChild(scene, "waiting").visible, true)
        }

        function test_evolutionShowsOverlay() {
            var scene = createScene(true)
            model.hasSnapshot = true
            model.joined = true

            model.evolved({ id: "concurrent_10", name: "A Small Circle", description: "Ten witnesses." })

            var overlay = findChild(scene, "evolution")
            compare(overlay.current.id, "concurrent_10")
            verify(overlay.fadeRunning)
            compare(overlay.fullMotionRunning, false)
        }
    }
}
