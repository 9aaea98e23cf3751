// Text formatting for the numbers the Collective shows: witness counts and
// total witnessed time. Pure functions without DOM access, so that Node can
// import this module in the unit tests.

// U+202F NARROW NO-BREAK SPACE is the thin space that typographers (and the
// CLDR data behind Intl for French and other locales) use between digit
// groups. Unlike U+2009 THIN SPACE it never lets a line break split a number.
export const THIN_SPACE = '\u202f';

// Formats an integer with its digits in groups of three,
// for example 1234567 as "1 234 567" with thin spaces. `separator` may be
// "," for the English style. Fractions are rounded to the nearest integer,
// and a value that is not a finite number is returned as "–".
export function formatCount(value, separator = THIN_SPACE) {
  if (!Number.isFinite(value)) return '\u2013';

  const sign = value < 0 ? '-' : '';
  const digits = String(Math.round(Math.abs(value)));

  let grouped = '';
  for (let end = digits.length; end > 0; end -= 3) {
    const group = digits.slice(Math.max(0, end - 3), end);
    grouped = grouped === '' ? group : group + separator + grouped;
  }
  return sign + grouped;
}

// The units of formatDuration, largest first. A year is 365 days, the same
// year as the catalogue's "A Year Held" milestone (31 536 000 seconds).
const DURATION_UNITS = [
  { seconds: 365 * 86400, singular: 'year', plural: 'years' },
  { seconds: 86400, singular: 'day', plural: 'days' },
  { seconds: 3600, singular: 'hour', plural: 'hours' },
  { seconds: 60, singular: 'minute', plural: 'minutes' },
  { seconds: 1, singular: 'second', plural: 'seconds' },
];

function describeQuantity(quantity, unit) {
  const noun = quantity === 1 ? unit.singular : unit.plural;
  return `${formatCount(quantity)} ${noun}`;
}

// Formats a duration in whole seconds as English words with at most two
// adjacent units, for example "3 days, 4 hours", "59 seconds" or "1 hour".
// The second unit is left out when it is zero, and anything smaller than
// the second unit is dropped (truncated, never rounded up), so the text never
// claims more time than has passed. Negative or non-finite input reads as
// "0 seconds".
export function formatDuration(totalSeconds) {
  const seconds = Number.isFinite(totalSeconds) ? Math.max(0, Math.floor(totalSeconds)) : 0;

  const largest = DURATION_UNITS.findIndex((unit) => seconds >= unit.seconds);
  if (largest === -1) return describeQuantity(0, DURATION_UNITS.at(-1));

  const unit = DURATION_UNITS[largest];
  const parts = [describeQuantity(Math.floor(seconds / unit.seconds), unit)];

  const next = DURATION_UNITS[largest + 1];
  if (next) {
    const remainder = Math.floor((seconds % unit.seconds) / next.seconds);
    if (remainder > 0) parts.push(describeQuantity(remainder, next));
  }
  return parts.join(', ');
}
