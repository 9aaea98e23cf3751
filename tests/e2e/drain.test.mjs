// End-to-end test of the graceful drain on SIGTERM: every witness is told
// goodbye with 1001, the closes are spread over the drain window rather
// than sent at once, the process exits within its bound, and the stored
// total equals the time the witnesses were actually joined.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';

import { ServerProcess, waitFor } from './lib/server.mjs';

const WITNESSES = 40;
const TICK_MS = 500;

function openWitness(server) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/socket/websocket?vsn=2.0.0`);
    ws.on('error', reject);
    ws.on('open', () => {
      ws.send(JSON.stringify(['1', '1', 'collective:lobby', 'phx_join', {}]));
      ws.joinedAt = Date.now();
      resolve(ws);
    });
    ws.closed = new Promise((r) => ws.on('close', (code) => r({ code, at: Date.now() })));
  });
}

test('SIGTERM drains witnesses over the window', async (t) => {
  const server = new ServerProcess({ env: { COLLECTIVE_TICK_INTERVAL_MS: String(TICK_MS),
                                            COLLECTIVE_DRAIN_WINDOW_MS: '2000' } });
  await server.start();
  t.after(() => server.dispose());

  const witnesses = [];
  for (let i = 0; i < WITNESSES; i++) witnesses.push(await openWitness(server));
  await waitFor(async () => (await server.state()).body.concurrent_connections === WITNESSES,
    { what: `${WITNESSES} witnesses` });
  await new Promise((r) => setTimeout(r, 1500));

  const stoppedAt = Date.now();
  const status = await server.stop('SIGTERM');
  const exitMs = Date.now() - stoppedAt;
  const closes = await Promise.all(witnesses.map((ws) => ws.closed));

  assert.equal(status.code, 0, `exit status ${JSON.stringify(status)}`);
  // The window is min(2000 ms, 10 ms per witness) = 400 ms, plus at most
  // 2 s for the close handshakes; the rest allows for a loaded machine.
  assert.ok(exitMs < 6000, `exited after ${exitMs} ms`);
  assert.deepEqual(new Set(closes.map((c) => c.code)), new Set([1001]));

  const times = closes.map((c) => c.at).sort((a, b) => a - b);
  const spread = times.at(-1) - times[0];
  assert.ok(spread >= 150, `closes spread over only ${spread} ms`);
  assert.ok(spread <= 1500, `closes spread over ${spread} ms, past the window`);

  // Every witness counted until its own close; whole seconds are stored.
  const witnessedSeconds = witnesses.reduce((sum, ws, i) => sum + (closes[i].at - ws.joinedAt) / 1000, 0);
  const stored = JSON.parse(readFileSync(join(server.dataDir, 'collective-state.json'), 'utf8'));
  const tolerance = WITNESSES * TICK_MS / 1000;
  assert.ok(Math.abs(stored.total_connection_seconds - witnessedSeconds) <= tolerance,
    `stored ${stored.total_connection_seconds} s, witnessed ${witnessedSeconds.toFixed(1)} s, tolerance ${tolerance} s`);
});
