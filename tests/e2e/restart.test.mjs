// End-to-end test of a restart with the embedded store: a server stopped with
// SIGTERM and started again on the same data directory must resume the same
// Collective. Witnesses use the official `phoenix` client, and every frame they
// receive is checked against shared/schema/messages.schema.json. Run with:
//
//   node --test --test-concurrency=1 restart.test.mjs

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { Socket } from 'phoenix';

import { checkedTransport, FrameLog } from './lib/schema.mjs';
import { ServerProcess, serverBinary, sleep, waitFor } from './lib/server.mjs';
import { lobbyClient } from './lib/phoenix.mjs';


// A phoenix socket joined to the lobby. `events` contains the lobby events in
// arrival order, and `joinedAt` is the time the join reply arrived.
class Witness {
  constructor(server, transport) {
    Object.assign(this, lobbyClient(Socket, server, transport));
  }

  async join() {
    this.socket.connect();
    const reply = await new Promise((resolve) => {
      this.channel
        .join()
        .receive('ok', (response) => resolve({ status: 'ok', response }))
        .receive('error', (response) => resolve({ status: 'error', response }))
        .receive('timeout', () => resolve({ status: 'timeout' }));
    });
    assert.deepEqual(reply, { status: 'ok', response: {} }, 'joining the lobby must succeed');
    this.joinedAt = Date.now();
    return (await this.waitForEvent('welcome')).payload;
  }

  payloads(event) {
    return this.events.filter((entry) => entry.event === event).map((entry) => entry.payload);
  }

  waitForEvent(event, predicate = () => true, timeoutMs = 3000) {
    return waitFor(() => this.events.find((entry) => entry.event === event && predicate(entry.payload)), {
      timeoutMs,
      intervalMs: 10,
      what: `a '${event}' event`,
    });
  }

  async close() {
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, 2000);
      this.socket.disconnect(() => {
        clearTimeout(timer);
        resolve();
      });
    });

    // Resets the rejoin timer that a server stop leaves behind.
    this.channel.leave();
  }
}

async function readState(server) {
  const { status, body } = await server.state();
  assert.equal(status, 200, 'GET /metrics/state must answer 200');
  return body;
}

test('restart resumes the same Collective', async (t) => {
  assert.ok(existsSync(serverBinary), `server binary not found at ${serverBinary}; build it or set COLLECTIVE_SERVER_BIN`);

  const tickIntervalMs = 250;
  const witnessCount = 2;
  const env = { COLLECTIVE_TICK_INTERVAL_MS: String(tickIntervalMs) };
  const dataDir = mkdtempSync(join(tmpdir(), 'collective-e2e-restart-'));
  const log = new FrameLog();
  const transport = checkedTransport(log);
  const witnesses = [];
  const servers = [];

  // One hook, because the order matters: clients, then servers, then the
  // data directory that both servers share.
  t.after(async () => {
    await Promise.all(witnesses.map((witness) => witness.close()));
    for (const server of servers) await server.dispose();
    rmSync(dataDir, { recursive: true, force: true });
  });

  // Two witnesses watch the first server for about two seconds.
  const first = new ServerProcess({ env, dataDir });
  servers.push(first);
  await first.start();

  for (let i = 0; i < witnessCount; i++) {
    const witness = new Witness(first, transport);
    witnesses.push(witness);
    await witness.join();
  }
  await witnesses[0].waitForEvent('tick', (p) => p.concurrent_connections === witnessCount, 2000);
  await sleep(2000);

  const beforeStop = await readState(first);
  const lastTick = witnesses[0].payloads('tick').at(-1);
  assert.equal(beforeStop.concurrent_connections, witnessCount);
  assert.equal(beforeStop.peak_connections, witnessCount);
  assert.ok(beforeStop.unlocked_milestones.includes('concurrent_1'), 'concurrent_1 unlocked before the stop');

  const stoppedAt = Date.now();
  const exit = await first.stop('SIGTERM');
  assert.deepEqual(exit, { code: 0, signal: null }, `SIGTERM must stop the server cleanly; output:\n${first.output}`);
  const witnessedSeconds = witnesses.reduce((sum, witness) => sum + (stoppedAt - witness.joinedAt) / 1000, 0);
  await Promise.all(witnesses.map((witness) => witness.close()));

  // A second server on the same data directory resumes the state.
  const second = new ServerProcess({ env, dataDir });
  servers.push(second);
  await second.start();
  const resumed = await readState(second);

  assert.equal(resumed.concurrent_connections, 0, 'no witness is left over from the first server');
  assert.equal(resumed.peak_connections, beforeStop.peak_connections, 'the peak persists');
  for (const id of beforeStop.unlocked_milestones) {
    assert.ok(resumed.unlocked_milestones.includes(id), `${id} stays unlocked`);
  }
  assert.ok(
    resumed.total_connection_seconds >= beforeStop.total_connection_seconds,
    `total ${resumed.total_connection_seconds} s after the restart, ${beforeStop.total_connection_seconds} s before the stop`,
  );
  assert.ok(
    resumed.total_connection_seconds >= lastTick.total_connection_seconds,
    `total ${resumed.total_connection_seconds} s after the restart, ${lastTick.total_connection_seconds} s in the last tick`,
  );

  // A restart may lose or repeat at most one tick of time. The total is
  // reported in whole seconds, so the reading can hide up to one more second.
  const tolerance = (witnessCount * tickIntervalMs) / 1000 + 1;
  t.diagnostic(
    `before the stop ${beforeStop.total_connection_seconds} s, after the restart ${resumed.total_connection_seconds} s, ` +
      `witnessed ${witnessedSeconds.toFixed(2)} s`,
  );
  assert.ok(
    Math.abs(resumed.total_connection_seconds - witnessedSeconds) <= tolerance,
    `total ${resumed.total_connection_seconds} s, witnessed ${witnessedSeconds.toFixed(2)} s, allowed ± ${tolerance} s`,
  );

  // A witness of the second server receives the resumed state, and no
  // milestone is announced a second time.
  const late = new Witness(second, transport);
  witnesses.push(late);
  const welcome = await late.join();
  assert.equal(welcome.concurrent_connections, 1);
  assert.equal(welcome.peak_connections, witnessCount);
  assert.ok(welcome.total_connection_seconds >= resumed.total_connection_seconds);
  for (const id of beforeStop.unlocked_milestones) {
    assert.ok(welcome.unlocked_milestones.includes(id), `the welcome lists ${id}`);
  }
  await sleep(2 * tickIntervalMs + 500);
  const repeated = late.payloads('evolution').filter((e) => beforeStop.unlocked_milestones.includes(e.id));
  assert.deepEqual(repeated, [], 'a milestone unlocked before the restart is not announced again');

  assert.deepEqual(log.violations, [], 'every server frame must match the message schema');
});
