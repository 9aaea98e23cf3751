// Text for the numbers the kiosk shows: witness counts and the total
// witnessed time. The scene and the Qt Quick tests both import this file, and
// it matches web/js/format.js so that the page and the kiosk read alike.
.pragma library

// Digit groups are separated by U+202F NARROW NO-BREAK SPACE, the thin space
// of typographic practice: "1 234 567". Unlike a comma it reads the same in
// every language, and unlike U+2009 THIN SPACE it never lets a line break
// split a number.
var groupSeparator = "\u202f";

// Formats a count with digits in groups of three, rounded to the nearest
// whole number. A value that is not a finite number reads as an en dash.
function formatCount(value) {
    if (typeof value !== "number" || !isFinite(value))
        return "\u2013";

    var sign = value < 0 ? "-" : "";
    var digits = String(Math.round(Math.abs(value)));
    var grouped = "";
    for (var end = digits.length; end > 0; end -= 3) {
        var group = digits.slice(Math.max(0, end - 3), end);
        grouped = grouped === "" ? group : group + groupSeparator + grouped;
    }
    return sign + grouped;
}

// Units of formatDuration, largest first. A year is 365 days, as in the
// catalogue's "A Year Held" milestone (31 536 000 seconds).
var durationUnits = [
    { seconds: 365 * 86400, singular: "year", plural: "years" },
    { seconds: 86400, singular: "day", plural: "days" },
    { seconds: 3600, singular: "hour", plural: "hours" },
    { seconds: 60, singular: "minute", plural: "minutes" },
    { seconds: 1, singular: "second", plural: "seconds" }
];

function describeQuantity(quantity, unit) {
    return formatCount(quantity) + " " + (quantity === 1 ? unit.singular : unit.plural);
}

// Formats whole seconds as English words with at most two adjacent units:
// "59 seconds", "1 hour", "3 days, 4 hours". The second unit is left out when
// it is zero, and anything smaller is truncated, so the text never claims
// more time than has passed. Negative or non-finite input reads as
// "0 seconds".
function formatDuration(totalSeconds) {
    var seconds = (typeof totalSeconds === "number" && isFinite(totalSeconds))
            ? Math.max(0, Math.floor(totalSeconds)) : 0;

    var largest = -1;
    for (var i = 0; i < durationUnits.length; ++i) {
        if (seconds >= durationUnits[i].seconds) {
            largest = i;
            break;
        }
    }
    if (largest === -1)
        return describeQuantity(0, durationUnits[durationUnits.length - 1]);

    var unit = durationUnits[largest];
    var text = describeQuantity(Math.floor(seconds / unit.seconds), unit);
    var next = durationUnits[largest + 1];
    if (next) {
        var remainder = Math.floor((seconds % unit.seconds) / next.seconds);
        if (remainder > 0)
            text += ", " + describeQuantity(remainder, next);
    }
    return text;
}

// The caption under the counter: "witness now" for exactly one.
function witnessCaption(count) {
    return count === 1 ? "witness now" : "witnesses now";
}
