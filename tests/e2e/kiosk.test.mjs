// End-to-end test of the collective-witness kiosk: a real server, the real
// kiosk binary on Qt's offscreen platform, and a second witness that uses the
// official `phoenix` client. The kiosk's state file (one JSON object per line)
// shows what the kiosk believes; the server's /metrics/state shows what the
// server counts. Run with:
//
//   COLLECTIVE_WITNESS_BIN=../../build/kiosk/client-qml/collective-witness \
//     node --test kiosk.test.mjs
//
// The screenshot lands in build/artifacts/kiosk.png (COLLECTIVE_ARTIFACTS_DIR
// overrides the folder).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { Socket } from 'phoenix';
import WebSocket from 'ws';

import { ServerProcess, serverBinary, waitFor } from './lib/server.mjs';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const witnessBinary =
  process.env.COLLECTIVE_WITNESS_BIN ?? join(repoRoot, 'build/dev/client-qml/collective-witness');
const artifactsDir = process.env.COLLECTIVE_ARTIFACTS_DIR ?? join(repoRoot, 'build/artifacts');

// Backoff bounds for the kiosk in this test. The largest possible delay is
// the maximum plus its 20 % jitter.
const RECONNECT_INITIAL_MS = 200;
const RECONNECT_MAX_MS = 1000;
const LARGEST_DELAY_MS = RECONNECT_MAX_MS * 1.2;
// Time for one attempt to open the socket and get the join reply on loopback.
const JOIN_ALLOWANCE_MS = 1000;

// The screenshot is taken once the evolution announced at the first join
// (about 9.4 s) has faded out, so it shows the figures.
const SCREENSHOT_AFTER_MS = 13000;

// The kiosk process with its state file.
class Kiosk {
  constructor(server, workDir) {
    this.stateFile = join(workDir, 'kiosk-state.jsonl');
    this.screenshot = join(artifactsDir, 'kiosk.png');
    this.output = '';
    this.child = spawn(witnessBinary, [
      '--windowed',
      '--window-size', '1920x1080',
      '--url', `ws://127.0.0.1:${server.port}`,
      '--state-file', this.stateFile,
      '--screenshot', this.screenshot,
      '--screenshot-after-ms', String(SCREENSHOT_AFTER_MS),
    ], {
      env: {
        ...process.env,
        QT_QPA_PLATFORM: 'offscreen',
        COLLECTIVE_RECONNECT_INITIAL_MS: String(RECONNECT_INITIAL_MS),
        COLLECTIVE_RECONNECT_MAX_MS: String(RECONNECT_MAX_MS),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.exited = new Promise((r) => this.child.once('exit', (code, signal) => r({ code, signal })));
    this.child.stdout.on('data', (d) => { this.output += d; });
    this.child.stderr.on('data', (d) => { this.output += d; });
  }

  // Every state line written so far, parsed.
  states() {
    if (!existsSync(this.stateFile)) return [];
    return readFileSync(this.stateFile, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line));
  }

  latest() {
    return this.states().at(-1) ?? null;
  }

  waitForState(predicate, what, timeoutMs = 5000) {
    return waitFor(() => {
      if (this.child.exitCode !== null) throw new Error(`the kiosk exited:\n${this.output}`);
      const state = this.latest();
      return state && predicate(state) ? state : null;
    }, { timeoutMs, intervalMs: 20, what });
  }

  async stop() {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.exited;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    const status = await this.exited;
    clearTimeout(timer);
    return status;
  }
}

// A second witness with the official phoenix client over the `ws` package.
async function joinWitness(server) {
  const socket = new Socket(`${server.socketUrl}`, {
    transport: WebSocket,
    timeout: 5000,
    // This witness must not come back after the restart on its own.
    reconnectAfterMs: () => 60_000,
    rejoinAfterMs: () => 60_000,
  });
  socket.connect();
  const channel = socket.channel('collective:lobby');
  await new Promise((resolveJoin, reject) => {
    channel.join()
      .receive('ok', resolveJoin)
      .receive('error', (reason) => reject(new Error(`join failed: ${JSON.stringify(reason)}`)))
      .receive('timeout', () => reject(new Error('join timed out')));
  });
  return {
    async leave() {
      channel.leave();
      await new Promise((r) => socket.disconnect(r));
    },
  };
}

async function serverConcurrent(server) {
  const { body } = await server.state();
  return body.concurrent_connections;
}

test('kiosk joins, counts a second witness, rejoins after a restart and saves a screenshot', { timeout: 45_000 }, async (t) => {
  assert.ok(existsSync(serverBinary), `server binary not found at ${serverBinary}; build it or set COLLECTIVE_SERVER_BIN`);
  assert.ok(existsSync(witnessBinary),
    `kiosk binary not found at ${witnessBinary}; build with -DCOLLECTIVE_BUILD_KIOSK=ON or set COLLECTIVE_WITNESS_BIN`);

  const workDir = mkdtempSync(join(tmpdir(), 'collective-kiosk-e2e-'));
  mkdirSync(artifactsDir, { recursive: true });
  rmSync(join(artifactsDir, 'kiosk.png'), { force: true });
  const server = new ServerProcess({ env: { COLLECTIVE_TICK_INTERVAL_MS: '500' } });
  await server.start();
  const kiosk = new Kiosk(server, workDir);
  t.after(async () => {
    await kiosk.stop();
    await server.dispose();
    rmSync(workDir, { recursive: true, force: true });
  });

  // The kiosk joins, and the server counts it.
  await kiosk.waitForState((s) => s.connection === 'joined' && s.concurrent === 1, 'the kiosk to join', 10_000);
  await waitFor(async () => (await serverConcurrent(server)) === 1, { what: 'the server to count the kiosk' });

  // A second witness through the official client reaches the kiosk's figures.
  const witness = await joinWitness(server);
  const withTwo = await kiosk.waitForState((s) => s.concurrent === 2, 'the kiosk to show 2 witnesses');
  assert.equal(withTwo.peak, 2);
  assert.ok(withTwo.unlocked.includes('concurrent_1'), 'First Light unlocked when the kiosk joined');
  await witness.leave();
  await kiosk.waitForState((s) => s.concurrent === 1, 'the kiosk to show 1 witness again');

  // The server stops; the kiosk waits and keeps its figures.
  const port = server.port;
  await server.stop('SIGTERM');
  const waiting = await kiosk.waitForState((s) => s.connection !== 'joined', 'the kiosk to notice the stop');
  assert.equal(waiting.peak, 2, 'the last figures stay while waiting');

  // Started again on the same port and data directory, the server gets the
  // kiosk back within one backoff delay plus a join.
  await server.start();
  assert.equal(server.port, port);
  const readyAt = Date.now();
  const rejoined = await kiosk.waitForState((s) => s.connection === 'joined' && s.concurrent >= 1,
    'the kiosk to rejoin the restarted server', LARGEST_DELAY_MS + JOIN_ALLOWANCE_MS + 2000);
  const rejoinMs = Date.now() - readyAt;
  assert.ok(rejoinMs <= LARGEST_DELAY_MS + JOIN_ALLOWANCE_MS,
    `the kiosk rejoined after ${rejoinMs} ms; the bound is ${LARGEST_DELAY_MS + JOIN_ALLOWANCE_MS} ms`);
  assert.equal(rejoined.peak, 2, 'the restarted server resumed the same Collective');
  await waitFor(async () => (await serverConcurrent(server)) === 1, { what: 'the restarted server to count the kiosk' });

  // The screenshot: a 1920x1080 PNG, saved while the kiosk keeps running.
  const screenshot = await waitFor(() => existsSync(kiosk.screenshot) && statSync(kiosk.screenshot).size > 0 && kiosk.screenshot,
    { timeoutMs: SCREENSHOT_AFTER_MS + 5000, intervalMs: 100, what: 'the screenshot' });
  const png = readFileSync(screenshot);
  assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG');
  assert.equal(png.readUInt32BE(16), 1920, 'screenshot width');
  assert.equal(png.readUInt32BE(20), 1080, 'screenshot height');
  assert.equal(kiosk.child.exitCode, null, 'the kiosk keeps running after the screenshot');

  // Every state line has the documented fields.
  for (const state of kiosk.states()) {
    assert.deepEqual(Object.keys(state).sort(), ['concurrent', 'connection', 'peak', 'total_seconds', 'unlocked']);
  }
});
