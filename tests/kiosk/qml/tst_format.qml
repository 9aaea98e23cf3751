// Format.js: the witness count with thin-space digit groups, and total time
// in English words with at most two units.
import QtQuick
import QtTest
import Collective.Witness

TestCase {
    name: "Format"

    function test_count_data() {
        return [
            { tag: "zero", value: 0, expected: "0" },
            { tag: "one", value: 1, expected: "1" },
            { tag: "three digits", value: 999, expected: "999" },
            { tag: "one thousand", value: 1000, expected: "1\u202f000" },
            { tag: "seven digits", value: 1234567, expected: "1\u202f234\u202f567" },
            { tag: "fraction while tweening", value: 41.6, expected: "42" },
            { tag: "not a number", value: NaN, expected: "\u2013" }
        ]
    }

    function test_count(data) {
        compare(Format.formatCount(data.value), data.expected)
    }

    function test_countUsesNarrowNoBreakSpace() {
        compare(Format.formatCount(1234567).charCodeAt(1), 0x202f)
    }

    function test_duration_data() {
        return [
            { tag: "nothing yet", seconds: 0, expected: "0 seconds" },
            { tag: "one second", seconds: 1, expected: "1 second" },
            { tag: "59 seconds", seconds: 59, expected: "59 seconds" },
            { tag: "one minute", seconds: 60, expected: "1 minute" },
            { tag: "minute and second", seconds: 61, expected: "1 minute, 1 second" },
            { tag: "one hour", seconds: 3600, expected: "1 hour" },
            { tag: "seconds below minutes are dropped", seconds: 3600 + 59, expected: "1 hour" },
            { tag: "3 days 4 hours", seconds: 3 * 86400 + 4 * 3600, expected: "3 days, 4 hours" },
            { tag: "3 days 4 hours and minutes", seconds: 3 * 86400 + 4 * 3600 + 59 * 60, expected: "3 days, 4 hours" },
            { tag: "a year", seconds: 365 * 86400, expected: "1 year" },
            { tag: "many years", seconds: 1200 * 365 * 86400 + 2 * 86400, expected: "1\u202f200 years, 2 days" },
            { tag: "negative", seconds: -5, expected: "0 seconds" }
        ]
    }

    function test_duration(data) {
        compare(Format.formatDuration(data.seconds), data.expected)
    }

    function test_witnessCaption() {
        compare(Format.witnessCaption(0), "witnesses now")
        compare(Format.witnessCaption(1), "witness now")
        compare(Format.witnessCaption(2), "witnesses now")
    }
}
