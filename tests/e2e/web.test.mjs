// Browser tests of the web page, served by a real collective-server and
// loaded in headless Chromium.
//
// The server ticks every 500 ms so that the total time grows while the tests
// run. The tests read the exact figures from the DOM (data-value on
// #witnesses, #peak and #total-time, data-connection on <body>), and the
// visible text where it matters. A screenshot of the page at 1920x1080 goes
// to build/artifacts/web-page.png, or to COLLECTIVE_ARTIFACTS_DIR.
//
// NOTE: the server serves the copy of web/ compiled into its binary, so a
// change under web/ shows up here only after the server is rebuilt.

import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import Ajv from 'ajv';
import addFormats from 'ajv-formats';

import { launchBrowser } from './lib/browser.mjs';
import { startServer, waitFor } from './lib/server.mjs';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const artifactsDir = process.env.COLLECTIVE_ARTIFACTS_DIR ?? join(repoRoot, 'build/artifacts');
const schemaPath = join(repoRoot, 'shared/schema/messages.schema.json');

const TICK_INTERVAL_MS = 500;
const VIEWPORT = { width: 1920, height: 1080 };

// The page's first reconnect delays are about 1, 2, 4 and 8 s (±30 %), so a
// page notices a server that is back within about 15 s. The limit leaves room
// for a slow machine.
const RECONNECT_TIMEOUT_MS = 35000;

let server;
let browser;

before(async () => {
  server = await startServer({ env: { COLLECTIVE_TICK_INTERVAL_MS: String(TICK_INTERVAL_MS) } });
  browser = await launchBrowser({ viewport: VIEWPORT });
});

after(async () => {
  await browser?.close();
  await server?.dispose();
});

// Opens the page in a new tab. Returns {page, errors, frames}: the errors it
// logged and the WebSocket frames it received ({receivedAt, text}).
async function openPage() {
  const page = await browser.context.newPage();
  const record = { page, errors: [], frames: [] };

  page.on('pageerror', (error) => record.errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error' && !isExpectedConnectionError(message.text())) record.errors.push(message.text());
  });
  page.on('websocket', (socket) => {
    socket.on('framereceived', ({ payload }) => record.frames.push({ receivedAt: new Date().toISOString(), text: payload }));
  });

  await page.goto(server.httpUrl + '/');
  return record;
}

// Returns the last `count` frames a page received, one a line with the time
// it received them, for failure messages.
function describeFrames(record, count) {
  return record.frames.slice(-count).map(({ receivedAt, text }) => `${receivedAt} ${text.slice(0, 200)}`).join('\n');
}

// Chromium logs a failed WebSocket handshake as a console error. While the
// server is stopped that failure is the expected way to find out.
function isExpectedConnectionError(text) {
  return /WebSocket connection to .* failed/.test(text);
}

// Returns what the page shows: the exact values in data-value and
// data-connection, and the visible text, which may lag while a tween runs.
function readFigures(page) {
  return page.evaluate(() => {
    const witnesses = document.getElementById('witnesses');
    const peak = document.getElementById('peak');
    const totalTime = document.getElementById('total-time');
    return {
      connection: document.body.dataset.connection,
      witnesses: witnesses.dataset.value,
      witnessesText: witnesses.textContent,
      peak: peak.dataset.value,
      peakText: peak.textContent,
      totalSeconds: Number(totalTime.dataset.value),
      totalText: totalTime.textContent,
    };
  });
}

// Waits until the page is connected and shows `count` witnesses, both in
// data-value and, once the tween has ended, in the visible text.
async function waitForWitnesses(page, count, timeoutMs = 5000) {
  await waitFor(async () => {
    const figures = await readFigures(page);
    return figures.connection === 'connected' && figures.witnesses === String(count) && figures.witnessesText === String(count);
  }, { timeoutMs, what: `the page to show ${count} connected witness(es)` });
}

// Waits until the fade from the waiting state to the connected state ends.
async function waitForFiguresFadedIn(page) {
  await page.waitForFunction(() => ['.witnesses', '.figures', '.evolutions']
    .every((selector) => getComputedStyle(document.querySelector(selector)).opacity === '1'), null, { timeout: 5000 });
}

async function closePage(record) {
  if (!record.page.isClosed()) await record.page.close();
}

describe('one page', () => {
  let first;

  before(async () => {
    first = await openPage();
  });

  after(async () => {
    await closePage(first);
  });

  test('shows one witness', async () => {
    await waitForWitnesses(first.page, 1);

    const figures = await readFigures(first.page);
    assert.equal(figures.connection, 'connected');
    assert.equal(figures.witnesses, '1');
    assert.equal(figures.witnessesText, '1');
    assert.equal(figures.peak, '1');
    assert.equal(figures.peakText, '1');
    assert.equal(await first.page.locator('#witnesses-label').textContent(), 'witness now');
  });

  test('announces First Light', async () => {
    // The first witness of a fresh Collective unlocks concurrent_1.
    const overlay = first.page.locator('#evolution[data-milestone-id="concurrent_1"]');
    await overlay.waitFor({ state: 'visible', timeout: 5000 });
    assert.equal(await overlay.locator('.evolution-name').textContent(), 'First Light');

    // A picture of the announcement, once its name is in focus, is an
    // artifact for people to look at, not an assertion.
    await first.page.waitForTimeout(4500);
    mkdirSync(artifactsDir, { recursive: true });
    await first.page.screenshot({ path: join(artifactsDir, 'web-evolution.png') });

    await overlay.waitFor({ state: 'hidden', timeout: 15000 });
  });

  test('lists unlocked milestones', async () => {
    const item = first.page.locator('#milestones [data-milestone-id="concurrent_1"]');
    assert.equal(await item.textContent(), 'First Light');
    assert.match(await first.page.locator('#milestone-summary').textContent(), /^1 of \d+$/);
  });

  test('total time grows', async () => {
    const start = await readFigures(first.page);
    const grown = await waitFor(async () => {
      const figures = await readFigures(first.page);
      return figures.totalSeconds >= start.totalSeconds + 2 && figures;
    }, { timeoutMs: 8000, what: 'the total time to grow by 2 s' });

    assert.ok(Number.isInteger(grown.totalSeconds));
    assert.match(grown.totalText, /^\d+ seconds?$|^\d+ minutes?(, \d+ seconds?)?$/);
  });

  test('frames match the schema', async () => {
    // The schema is plain draft-07. Its tuple branches leave out minItems,
    // and its error branch types "response" only in the outer schema, which
    // Ajv's strict mode would report although the schema is valid.
    const ajv = new Ajv({ allErrors: true, strictTuples: false, strictTypes: false });
    addFormats(ajv);
    const validateFrame = ajv.compile(JSON.parse(readFileSync(schemaPath, 'utf8')));

    assert.ok(first.frames.length > 0, 'the page received no frames');
    for (const { text } of first.frames) {
      const frame = JSON.parse(text);
      assert.ok(validateFrame(frame), `invalid frame ${text}: ${ajv.errorsText(validateFrame.errors)}`);
    }
    const events = new Set(first.frames.map(({ text }) => JSON.parse(text)[3]));
    for (const event of ['phx_reply', 'welcome', 'tick', 'evolution']) {
      assert.ok(events.has(event), `the page received no ${event} frame`);
    }
  });

  test('logs no errors', () => {
    assert.deepEqual(first.errors, []);
  });
});

describe('two pages', () => {
  let first;
  let second;

  before(async () => {
    first = await openPage();
    await waitForWitnesses(first.page, 1);
  });

  after(async () => {
    await closePage(first);
    if (second) await closePage(second);
  });

  test('both show two witnesses', async () => {
    second = await openPage();

    await waitForWitnesses(first.page, 2);
    await waitForWitnesses(second.page, 2);
    assert.equal(await first.page.locator('#witnesses-label').textContent(), 'witnesses now');
    assert.equal((await readFigures(second.page)).peak, '2');
  });

  test('closing one leaves one witness', async () => {
    await closePage(second);

    await waitForWitnesses(first.page, 1);
    assert.equal((await readFigures(first.page)).peak, '2', `the peak went down; frames received:\n${describeFrames(first, 8)}`);
  });

  test('logs no errors', () => {
    assert.deepEqual(first.errors, []);
    assert.deepEqual(second.errors, []);
  });
});

describe('server restart', () => {
  let record;

  before(async () => {
    record = await openPage();
    await waitForWitnesses(record.page, 1);
  });

  after(async () => {
    await closePage(record);
  });

  test('page waits, then reconnects by itself', { timeout: 60000 }, async () => {
    const beforeStop = await readFigures(record.page);

    await server.stop('SIGTERM');
    await waitFor(async () => (await readFigures(record.page)).connection === 'waiting',
      { timeoutMs: 5000, what: 'the page to show the waiting state' });
    assert.equal(await record.page.locator('.when-waiting').isVisible(), true);

    // The same port and data directory: the same Collective comes back.
    await server.start();
    await waitForWitnesses(record.page, 1, RECONNECT_TIMEOUT_MS);

    const afterRestart = await readFigures(record.page);
    assert.equal(afterRestart.connection, 'connected');
    assert.ok(afterRestart.totalSeconds >= beforeStop.totalSeconds,
      `total time went back from ${beforeStop.totalSeconds} s to ${afterRestart.totalSeconds} s`);
    assert.equal(await record.page.locator('.when-waiting').isVisible(), false);
  });

  test('logs no errors', () => {
    assert.deepEqual(record.errors, []);
  });
});

describe('screenshot', () => {
  test('page at 1920x1080', async () => {
    const record = await openPage();
    try {
      await waitForWitnesses(record.page, 1);
      await record.page.locator('#evolution').waitFor({ state: 'hidden', timeout: 15000 });
      await waitForFiguresFadedIn(record.page);

      mkdirSync(artifactsDir, { recursive: true });
      const path = join(artifactsDir, 'web-page.png');
      const image = await record.page.screenshot({ path });
      assert.ok(image.length > 10000, `the screenshot at ${path} is only ${image.length} bytes`);
      assert.deepEqual(record.errors, []);
    } finally {
      await closePage(record);
    }
  });
});
