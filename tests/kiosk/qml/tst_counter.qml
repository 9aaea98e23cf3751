// Counter: shows the grouped count, glides to a new value, and jumps when
// motion is reduced.
import QtQuick
import QtTest
import Collective.Witness

TestCase {
    name: "Counter"
    when: windowShown

    Component {
        id: counterComponent
        Counter {}
    }

    function test_text_data() {
        return [
            { tag: "zero", value: 0, expected: "0" },
            { tag: "one", value: 1, expected: "1" },
            { tag: "1 234 567", value: 1234567, expected: "1\u202f234\u202f567" }
        ]
    }

    function test_text(data) {
        var counter = createTemporaryObject(counterComponent, this, { reducedMotion: true })
        counter.value = data.value
        compare(counter.text, data.expected)
    }

    function test_firstValueJumps() {
        var counter = createTemporaryObject(counterComponent, this)
        counter.value = 1234567
        compare(counter.moving, false)
        compare(counter.text, "1\u202f234\u202f567")
    }

    function test_laterValueGlides() {
        var counter = createTemporaryObject(counterComponent, this)
        counter.value = 10
        counter.value = 1010
        verify(counter.moving, "a new value starts the tween")
        verify(counter.text !== "1\u202f010", "the text does not jump to the target")
        tryCompare(counter, "text", "1\u202f010", 3000)
        tryCompare(counter, "moving", false)
    }

    function test_reducedMotionJumps() {
        var counter = createTemporaryObject(counterComponent, this, { reducedMotion: true })
        counter.value = 10
        counter.value = 1010
        compare(counter.moving, false)
        compare(counter.text, "1\u202f010")
    }
}
