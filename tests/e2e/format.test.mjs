// Unit tests of web/js/format.js, imported straight from the web folder.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { THIN_SPACE, formatCount, formatDuration } from '../../web/js/format.js';

describe('formatCount', () => {
  const cases = [
    { name: 'zero', value: 0, expected: '0' },
    { name: 'one', value: 1, expected: '1' },
    { name: 'three digits stay whole', value: 999, expected: '999' },
    { name: 'four digits get a group', value: 1000, expected: `1${THIN_SPACE}000` },
    { name: 'millions', value: 1234567, expected: `1${THIN_SPACE}234${THIN_SPACE}567` },
    { name: 'fraction rounds', value: 41.6, expected: '42' },
    { name: 'negative keeps its sign', value: -1234, expected: `-1${THIN_SPACE}234` },
    { name: 'not a number', value: Number.NaN, expected: '\u2013' },
  ];
  for (const { name, value, expected } of cases) {
    test(name, () => {
      assert.equal(formatCount(value), expected);
    });
  }

  test('separator is a narrow no-break space', () => {
    assert.equal(THIN_SPACE, '\u202f');
  });

  test('comma separator', () => {
    assert.equal(formatCount(1234567, ','), '1,234,567');
  });
});

describe('formatDuration', () => {
  const minute = 60;
  const hour = 60 * minute;
  const day = 24 * hour;
  const year = 365 * day;
  const cases = [
    { name: 'zero', seconds: 0, expected: '0 seconds' },
    { name: 'one second is singular', seconds: 1, expected: '1 second' },
    { name: 'fifty-nine seconds', seconds: 59, expected: '59 seconds' },
    { name: 'one minute', seconds: minute, expected: '1 minute' },
    { name: 'minute and seconds', seconds: minute + 5, expected: '1 minute, 5 seconds' },
    { name: 'one hour', seconds: hour, expected: '1 hour' },
    { name: 'hour drops the seconds', seconds: hour + 59, expected: '1 hour' },
    { name: 'hours and minutes', seconds: 2 * hour + 30 * minute, expected: '2 hours, 30 minutes' },
    { name: 'three days four hours', seconds: 3 * day + 4 * hour, expected: '3 days, 4 hours' },
    { name: 'days drop the minutes', seconds: 3 * day + 4 * hour + 59 * minute, expected: '3 days, 4 hours' },
    { name: 'one day one hour', seconds: day + hour, expected: '1 day, 1 hour' },
    { name: 'years and days', seconds: 2 * year + 10 * day, expected: '2 years, 10 days' },
    { name: 'large years are grouped', seconds: 1234 * year, expected: `1${THIN_SPACE}234 years` },
    { name: 'fraction truncates', seconds: 59.9, expected: '59 seconds' },
    { name: 'negative reads as zero', seconds: -5, expected: '0 seconds' },
    { name: 'not a number reads as zero', seconds: Number.NaN, expected: '0 seconds' },
  ];
  for (const { name, seconds, expected } of cases) {
    test(name, () => {
      assert.equal(formatDuration(seconds), expected);
    });
  }
});
