// A witness on the official phoenix client and the small helpers that the
// end-to-end tests of several nodes share: retrying an assertion, sampling a
// value over time, and reading a node's readiness and state.

import assert from 'node:assert/strict';

import { Socket } from 'phoenix';

import { getJson, sleep, waitFor } from './server.mjs';
import { lobbyClient, replyOf, within } from './phoenix.mjs';

// Retries `check` until it returns without throwing, then resolves with its
// result. After `timeoutMs` the last error is thrown, so the failure shows the
// assertion that did not hold.
export async function eventually(check, { timeoutMs = 3000, intervalMs = 50 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() >= deadline) throw error;
    }
    await sleep(intervalMs);
  }
}

// A witness that uses the official phoenix client, joined to the lobby of one
// node. `events` contains the lobby events in arrival order with their arrival
// time, and `closeEvents` every close of the underlying WebSocket.
export class Witness {
  // `server` is anything with a socketUrl: a node, or a load balancer.
  // `options` go to lobbyClient (reconnectAfterMs, for one).
  constructor(server, transport, options = {}) {
    this.server = server;
    Object.assign(this, lobbyClient(Socket, server, transport, options));
    this.closeEvents = [];
    this.socket.onClose((event) => this.closeEvents.push({ code: event.code, reason: event.reason, at: Date.now() }));
  }

  async connect() {
    const opened = new Promise((resolve) => this.socket.onOpen(resolve));
    this.socket.connect();
    await within(opened, 5000, `the phoenix socket to ${this.server.socketUrl} to open`);
  }

  // Joins the lobby of a connected socket and resolves with the welcome
  // payload. `joinedAt` is the time the join reply arrived.
  async join() {
    const reply = await replyOf(this.channel.join());
    assert.deepEqual(reply, { status: 'ok', response: {} }, 'joining the lobby must succeed');
    this.joinedAt = Date.now();
    return (await this.waitForEvent('welcome')).payload;
  }

  // Leaves the lobby and records `leftAt`, the time the leave reply arrived.
  async leave() {
    const reply = await replyOf(this.channel.leave());
    assert.equal(reply.status, 'ok', 'leaving the lobby must succeed');
    this.leftAt = Date.now();
  }

  payloads(event) {
    return this.events.filter((entry) => entry.event === event).map((entry) => entry.payload);
  }

  // The global count in the latest welcome, presence or tick.
  latestCount() {
    const counted = this.events.filter((entry) => entry.event !== 'evolution');
    return counted.at(-1)?.payload.concurrent_connections;
  }

  // Every peak this witness was shown, in arrival order.
  peaks() {
    return this.events
      .filter((entry) => entry.event !== 'evolution')
      .map((entry) => ({ peak: entry.payload.peak_connections, event: entry.event, at: entry.at }));
  }

  waitForEvent(event, predicate = () => true, { after = 0, timeoutMs = 3000 } = {}) {
    return waitFor(
      () => this.events.find((entry) => entry.event === event && entry.at >= after && predicate(entry.payload)),
      { timeoutMs, intervalMs: 10, what: `a '${event}' event on ${this.server.socketUrl}` },
    );
  }

  async close() {
    const disconnected = new Promise((resolve) => this.socket.disconnect(resolve));
    await within(disconnected, 2000, 'the phoenix socket to close').catch(() => {});

    // Leaving the channel of a closed socket only resets its rejoin timer,
    // so no timer outlives the test.
    this.channel.leave();
  }
}

export async function readiness(server) {
  try {
    return await getJson(server.httpUrl, '/health/ready');
  } catch (error) {
    return { status: null, body: { error: error.message } };
  }
}

export async function readState(server) {
  const { status, body } = await server.state();
  assert.equal(status, 200, `GET /metrics/state on port ${server.port} must answer 200`);
  return body;
}

// Polls `read` every `intervalMs` until stop() and keeps every value with its
// time, so a test can check a value over a whole period.
export function sampleEvery(intervalMs, read) {
  const samples = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        samples.push({ value: await read(), at: Date.now() });
      } catch (error) {
        samples.push({ error: error.message, at: Date.now() });
      }
      await sleep(intervalMs);
    }
  })();
  return {
    samples,
    async stop() {
      running = false;
      await loop;
      return samples;
    },
  };
}

// Runs `body` and, when it fails, adds the text of `describe()` (logs and
// keys) to the test output before the failure is reported.
export async function withDiagnostics(t, describe, body) {
  try {
    await body();
  } catch (error) {
    t.diagnostic(await describe());
    throw error;
  }
}

// Returns each node's log under a header line, for a failure report.
export function nodeLogs(servers) {
  return servers.flatMap((server, index) => [`--- node ${index} (port ${server.port}) log:`, server.output.trimEnd()]);
}
