// End-to-end tests of the wire protocol: a real collective-server process, the
// official `phoenix` JavaScript client (1.8) and raw `ws` sockets where a test
// must see or send exact frames.
//
// Every test starts its own server on a free loopback port with a fresh data
// directory, and every frame that its clients receive is checked against
// shared/schema/messages.schema.json. Run with:
//
//   node --test --test-concurrency=1 protocol.test.mjs

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { Socket } from 'phoenix';
import WebSocket from 'ws';

import { catalogue, checkedTransport, FrameLog } from './lib/schema.mjs';
import { freePort, ServerProcess, serverBinary, sleep, waitFor } from './lib/server.mjs';
import { replyOf, within } from './lib/phoenix.mjs';

const LOBBY = 'collective:lobby';
const OK_REPLY = { status: 'ok', response: {} };

// The fields that the welcome's catalogue and an evolution event copy from
// shared/milestones.json.
const catalogueFields = ({ id, name, description, kind, threshold }) => ({ id, name, description, kind, threshold });
const evolutionFields = ({ id, name, description, kind }) => ({ id, name, description, kind });

// A witness that uses the official phoenix client. `frames` contains every
// frame that the socket received, rebuilt as the V2 array from the client's
// decoded message. `received` contains the lobby events that the channel delivered.
class Witness {
  constructor(session) {
    this.session = session;
    this.socket = new Socket(session.server.socketUrl, {
      transport: session.transport,
      timeout: 5000,
      // A reconnect or rejoin would hide what the server did, so both are
      // delayed beyond the length of any test.
      reconnectAfterMs: () => 60_000,
      rejoinAfterMs: () => 60_000,
    });
    this.frames = [];
    this.received = [];
    this.closeEvents = [];
    this.channels = [];
    this.lobby = null;

    this.socket.onMessage(({ join_ref, ref, topic, event, payload }) => {
      this.frames.push([join_ref, ref, topic, event, payload]);
    });
    this.socket.onClose((event) => this.closeEvents.push({ code: event.code, reason: event.reason }));
  }

  connect() {
    const opened = new Promise((resolve) => this.socket.onOpen(resolve));
    this.socket.connect();
    return within(opened, 5000, 'the phoenix socket to open');
  }

  // Joins `topic` and resolves with the reply. The channel records the events
  // that the lobby broadcasts.
  join(topic = LOBBY) {
    const channel = this.socket.channel(topic);
    for (const event of ['welcome', 'tick', 'presence', 'evolution']) {
      channel.on(event, (payload) => this.received.push({ event, payload, at: Date.now() }));
    }
    this.channels.push(channel);
    if (topic === LOBBY) this.lobby = channel;
    return replyOf(channel.join());
  }

  leave() {
    return replyOf(this.lobby.leave());
  }

  events(event) {
    return this.received.filter((entry) => entry.event === event);
  }

  // Waits for an event that matches `predicate` at or after position `after`
  // in `received`, and resolves with its entry `{ event, payload, at }`.
  waitForEvent(event, predicate = () => true, { after = 0, timeoutMs = 3000 } = {}) {
    return waitFor(
      () => this.received.slice(after).find((entry) => entry.event === event && predicate(entry.payload)),
      { timeoutMs, intervalMs: 10, what: `a '${event}' event` },
    );
  }

  waitForFrame(predicate, { timeoutMs = 3000, what = 'a frame' } = {}) {
    return waitFor(() => this.frames.find(predicate), { timeoutMs, intervalMs: 10, what });
  }

  async close() {
    const disconnected = new Promise((resolve) => this.socket.disconnect(resolve));
    await within(disconnected, 2000, 'the phoenix socket to close').catch(() => {});

    // Leaving a channel of a closed socket only resets its rejoin timer, so
    // no timer outlives the test.
    for (const channel of this.channels) channel.leave();
  }
}

// A raw WebSocket client for tests that need exact frames or bad input.
class RawClient {
  constructor(session) {
    this.ws = new session.transport(`${session.server.socketUrl}/websocket?vsn=2.0.0`);
    this.frames = [];
    this.errors = [];
    this.nextRef = 1;

    this.ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      try {
        this.frames.push(JSON.parse(data.toString('utf8')));
      } catch {
        // FrameLog reports frames that are not JSON.
      }
    });
    this.ws.on('error', (error) => this.errors.push(error.message));
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => resolve({ code, reason: reason.toString('utf8'), at: Date.now() }));
    });
  }

  async open() {
    const opened = new Promise((resolve, reject) => {
      this.ws.once('open', resolve);
      this.ws.once('error', reject);
    });
    await within(opened, 5000, 'the raw WebSocket to open');
    this.openedAt = Date.now();
  }

  get isOpen() {
    return this.ws.readyState === WebSocket.OPEN;
  }

  send(frame) {
    this.ws.send(typeof frame === 'string' || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame));
  }

  // Sends `[joinRef, ref, topic, event, payload]` with a fresh ref and
  // resolves with the phx_reply frame that carries that ref.
  async request(topic, event, payload = {}, { joinRef = null, timeoutMs = 3000 } = {}) {
    const ref = String(this.nextRef++);
    this.send([joinRef, ref, topic, event, payload]);
    return waitFor(
      () => this.frames.find((frame) => frame[1] === ref && frame[3] === 'phx_reply'),
      { timeoutMs, intervalMs: 10, what: `the reply to '${event}' on '${topic}' (ref ${ref})` },
    );
  }

  closedWithin(timeoutMs) {
    return within(this.closed, timeoutMs, 'the server to close the raw WebSocket');
  }

  close() {
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.terminate();
  }
}

// One server and the clients of one test. The server is stopped and its data
// directory removed after the test, once every client is closed.
class Session {
  static async start(t, env = {}) {
    requireServerBinary();
    const session = new Session(new ServerProcess({ env }));
    t.after(() => session.close());
    await session.server.start();
    return session;
  }

  constructor(server) {
    this.server = server;
    this.log = new FrameLog();
    this.transport = checkedTransport(this.log);
    this.witnesses = [];
    this.rawClients = [];
  }

  // A phoenix socket that is connected but has not joined.
  async witness() {
    const witness = new Witness(this);
    this.witnesses.push(witness);
    await witness.connect();
    return witness;
  }

  // A phoenix socket that joined the lobby and received its welcome.
  async joinedWitness() {
    const witness = await this.witness();
    const reply = await witness.join();
    assert.deepEqual(reply, OK_REPLY, 'joining the lobby must succeed');
    await witness.waitForEvent('welcome');
    return witness;
  }

  async raw() {
    const client = new RawClient(this);
    this.rawClients.push(client);
    await client.open();
    return client;
  }

  async state() {
    const { status, body } = await this.server.state();
    assert.equal(status, 200, 'GET /metrics/state must answer 200');
    return body;
  }

  async metrics() {
    const response = await fetch(`${this.server.httpUrl}/metrics`);
    return { status: response.status, contentType: response.headers.get('content-type'), text: await response.text() };
  }

  assertFramesValid() {
    assert.deepEqual(this.log.violations, [], 'every server frame must match the message schema');
  }

  async close() {
    for (const client of this.rawClients) client.close();
    await Promise.all(this.witnesses.map((witness) => witness.close()));
    await this.server.dispose();
  }
}

// Fails the test with a clear message when the server is not built. Without
// this check, spawning a missing binary emits an 'error' event that the
// harness does not handle.
function requireServerBinary() {
  assert.ok(existsSync(serverBinary), `server binary not found at ${serverBinary}; build it or set COLLECTIVE_SERVER_BIN`);
}

// Parses Prometheus text exposition into samples `{ name, labels, value }`.
// A line that is neither a comment nor a sample is returned in `invalid`.
function parsePrometheus(text) {
  const samples = [];
  const invalid = [];
  const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)(\s+-?\d+)?$/;
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const match = sampleLine.exec(line);
    if (!match || Number.isNaN(Number(match[3]))) {
      invalid.push(line);
      continue;
    }
    samples.push({ name: match[1], labels: match[2] ?? '', value: Number(match[3]) });
  }
  return { samples, invalid };
}

// Returns the sum of every sample of the metric `name` across its labels, or
// undefined when the metric has no sample.
function metricTotal(text, name) {
  const matching = parsePrometheus(text).samples.filter((sample) => sample.name === name);
  if (matching.length === 0) return undefined;
  return matching.reduce((sum, sample) => sum + sample.value, 0);
}

// Runs the server binary until it exits, with a fresh data directory. Used
// for configurations that must make the server stop at start.
async function runUntilExit(env, timeoutMs = 10_000) {
  requireServerBinary();
  const dataDir = mkdtempSync(join(tmpdir(), 'collective-e2e-'));
  const port = await freePort();
  const child = spawn(serverBinary, [], {
    env: {
      ...process.env,
      PORT: String(port),
      COLLECTIVE_BIND: '127.0.0.1',
      COLLECTIVE_DATA_DIR: dataDir,
      COLLECTIVE_ENV: 'dev',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (data) => { stdout += data; });
  child.stderr.on('data', (data) => { stderr += data; });

  const exited = new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  let timer;
  const timedOut = new Promise((resolve) => { timer = setTimeout(() => resolve(null), timeoutMs); });

  try {
    const status = await Promise.race([exited, timedOut]);
    if (status === null) {
      child.kill('SIGKILL');
      await exited;
      throw new Error(`the server still ran ${timeoutMs} ms after start with ${JSON.stringify(env)}:\n${stdout}${stderr}`);
    }
    return { ...status, stdout, stderr };
  } finally {
    clearTimeout(timer);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

test('join returns welcome with snapshot', async (t) => {
  const tickIntervalMs = 1234;
  const session = await Session.start(t, { COLLECTIVE_TICK_INTERVAL_MS: String(tickIntervalMs) });
  const first = await session.witness();

  const beforeJoin = await session.state();
  assert.equal(beforeJoin.concurrent_connections, 0, 'an open socket that has not joined must not count');

  const joinedAt = Date.now();
  const reply = await first.join();
  assert.deepEqual(reply, OK_REPLY);
  const joinRef = first.lobby.joinRef();
  const replyFrame = first.frames.find((frame) => frame[3] === 'phx_reply');
  assert.deepEqual(replyFrame, [joinRef, joinRef, LOBBY, 'phx_reply', OK_REPLY], 'the join reply carries the join ref twice');

  // The phoenix channel drops a welcome whose join_ref is not its own, so
  // receiving it also proves the join_ref.
  const { payload: welcome } = await first.waitForEvent('welcome');
  assert.equal(welcome.concurrent_connections, 1);
  assert.equal(welcome.peak_connections, 1, 'a fresh data directory has seen no more than this witness');
  assert.equal(welcome.total_connection_seconds, 0, 'nobody has been witnessed for a second yet');
  assert.equal(welcome.tick_interval_ms, tickIntervalMs);
  assert.deepEqual(welcome.milestones.map((m) => m.id), catalogue.map((m) => m.id), 'milestone ids in catalogue order');
  assert.deepEqual(welcome.milestones.map(catalogueFields), catalogue.map(catalogueFields));
  assert.ok(
    Math.abs(Date.parse(welcome.server_time) - Date.now()) < 5000,
    `server_time ${welcome.server_time} must be close to the current time`,
  );
  assert.ok(
    welcome.unlocked_milestones.every((id) => id === 'concurrent_1'),
    `a fresh Collective with one witness unlocks only concurrent_1, got ${JSON.stringify(welcome.unlocked_milestones)}`,
  );

  // concurrent_1 unlocks with the first witness. Its evolution may come just
  // before or after the welcome, or with the first tick, but only once.
  const { payload: evolution } = await first.waitForEvent('evolution', (e) => e.id === 'concurrent_1', {
    timeoutMs: 2 * tickIntervalMs + 1000,
  });
  assert.deepEqual(evolutionFields(evolution), evolutionFields(catalogue[0]));
  const unlockedAt = Date.parse(evolution.unlocked_at);
  assert.ok(unlockedAt >= joinedAt - 1000, `unlocked_at ${evolution.unlocked_at} is before the join`);
  assert.ok(unlockedAt <= Date.now() + 1000, `unlocked_at ${evolution.unlocked_at} is in the future`);
  await sleep(2 * tickIntervalMs);
  assert.equal(first.events('evolution').filter((e) => e.payload.id === 'concurrent_1').length, 1, 'concurrent_1 is announced once');

  const afterUnlock = await session.state();
  assert.deepEqual(afterUnlock.unlocked_milestones, ['concurrent_1']);

  // A later witness finds the milestone in its welcome and no new announcement.
  const second = await session.joinedWitness();
  const { payload: secondWelcome } = await second.waitForEvent('welcome');
  assert.equal(secondWelcome.concurrent_connections, 2);
  assert.equal(secondWelcome.peak_connections, 2);
  assert.deepEqual(secondWelcome.unlocked_milestones, ['concurrent_1']);
  await sleep(tickIntervalMs + 500);
  assert.deepEqual(second.events('evolution'), [], 'an unlocked milestone is not announced again');

  session.assertFramesValid();
});

test('presence follows join and leave', async (t) => {
  const session = await Session.start(t);
  const first = await session.joinedWitness();
  const second = await session.joinedWitness();

  const { payload: firstSees } = await first.waitForEvent('presence', (p) => p.concurrent_connections === 2);
  const { payload: secondSees } = await second.waitForEvent('presence', (p) => p.concurrent_connections === 2);
  assert.deepEqual(firstSees, { concurrent_connections: 2, peak_connections: 2 });
  assert.deepEqual(secondSees, { concurrent_connections: 2, peak_connections: 2 });
  const whileBoth = await session.state();
  assert.equal(whileBoth.concurrent_connections, 2);
  assert.equal(whileBoth.peak_connections, 2);

  const firstMark = first.received.length;
  const joinRef = second.lobby.joinRef();
  const leaveReply = await second.leave();
  assert.deepEqual(leaveReply, OK_REPLY);

  // The witness stops counting at once: the first read after the reply shows it.
  const afterLeave = await session.state();
  assert.equal(afterLeave.concurrent_connections, 1, 'the leave must count at once');
  assert.equal(afterLeave.peak_connections, 2, 'the peak stays');

  const closeFrame = await second.waitForFrame((frame) => frame[3] === 'phx_close', { what: 'phx_close after the leave' });
  assert.deepEqual(closeFrame, [joinRef, joinRef, LOBBY, 'phx_close', {}]);

  const { payload: firstSeesLeave } = await first.waitForEvent('presence', (p) => p.concurrent_connections === 1, {
    after: firstMark,
  });
  assert.deepEqual(firstSeesLeave, { concurrent_connections: 1, peak_connections: 2 });

  // A socket that left gets no more lobby broadcasts.
  await sleep(300);
  const closeIndex = second.frames.indexOf(closeFrame);
  const lobbyFramesAfterClose = second.frames.slice(closeIndex + 1).filter((frame) => frame[2] === LOBBY);
  assert.deepEqual(lobbyFramesAfterClose, []);

  session.assertFramesValid();
});

test('heartbeat answered, silent socket closed', async (t) => {
  const idleTimeoutMs = 1500;
  const session = await Session.start(t, { COLLECTIVE_IDLE_TIMEOUT_MS: String(idleTimeoutMs) });
  const talker = await session.raw();
  const silent = await session.raw();
  const silentWitness = await session.raw();

  const heartbeatReply = await talker.request('phoenix', 'heartbeat');
  assert.deepEqual(heartbeatReply, [null, '1', 'phoenix', 'phx_reply', OK_REPLY]);

  const joinReply = await silentWitness.request(LOBBY, 'phx_join', {}, { joinRef: '1' });
  assert.deepEqual(joinReply, ['1', '1', LOBBY, 'phx_reply', OK_REPLY]);
  const joinedAt = Date.now();
  assert.equal((await session.state()).concurrent_connections, 1);

  // The talker sends a heartbeat every 500 ms, well inside the idle timeout,
  // until both silent sockets are closed and at least two timeouts passed.
  // The loop resolves with its error, if any, so that a failure surfaces at
  // the `await` below and not as an unhandled rejection.
  const heartbeatsDone = (async () => {
    const start = Date.now();
    while (Date.now() - start < 6000) {
      await sleep(500);
      const reply = await talker.request('phoenix', 'heartbeat');
      assert.deepEqual(reply[4], OK_REPLY);
      const silentDone = silent.ws.readyState === WebSocket.CLOSED && silentWitness.ws.readyState === WebSocket.CLOSED;
      if (silentDone && Date.now() - start >= 2 * idleTimeoutMs) return;
    }
  })().then(() => null, (error) => error);

  // Qt's default coarse timers may fire up to 5 % early, hence the 100 ms margin.
  const silentClose = await silent.closedWithin(6000);
  const silentAfterMs = silentClose.at - silent.openedAt;
  t.diagnostic(`the silent socket closed after ${silentAfterMs} ms`);
  assert.equal(silentClose.code, 1000);
  assert.equal(silentClose.reason, 'idle timeout');
  assert.ok(silentAfterMs >= idleTimeoutMs - 100, `closed after ${silentAfterMs} ms, before the idle timeout`);
  assert.ok(silentAfterMs < 6000, `closed after ${silentAfterMs} ms`);

  const witnessClose = await silentWitness.closedWithin(6000);
  const witnessAfterMs = witnessClose.at - joinedAt;
  assert.equal(witnessClose.code, 1000);
  assert.equal(witnessClose.reason, 'idle timeout');
  assert.ok(witnessAfterMs >= idleTimeoutMs - 100, `closed ${witnessAfterMs} ms after its last frame`);
  await waitFor(async () => (await session.state()).concurrent_connections === 0, {
    timeoutMs: 2000,
    what: 'the closed witness to stop counting',
  });

  const heartbeatError = await heartbeatsDone;
  if (heartbeatError) throw heartbeatError;
  assert.ok(talker.isOpen, 'the heartbeating socket stays open');
  const lastReply = await talker.request('phoenix', 'heartbeat');
  assert.deepEqual(lastReply[4], OK_REPLY);

  session.assertFramesValid();
});

test('join to other topic is rejected', async (t) => {
  const session = await Session.start(t);
  const witness = await session.witness();

  const reply = await witness.join('collective:other');
  assert.deepEqual(reply, { status: 'error', response: { reason: 'unmatched topic' } });
  const otherRef = witness.channels[0].joinRef();
  const replyFrame = witness.frames.find((frame) => frame[2] === 'collective:other');
  assert.deepEqual(replyFrame, [otherRef, otherRef, 'collective:other', 'phx_reply', reply]);

  assert.ok(witness.socket.isConnected(), 'the socket stays open');
  assert.equal((await session.state()).concurrent_connections, 0);

  // The same socket can still join the lobby.
  assert.deepEqual(await witness.join(), OK_REPLY);
  const { payload: welcome } = await witness.waitForEvent('welcome');
  assert.equal(welcome.concurrent_connections, 1);
  assert.equal((await session.state()).concurrent_connections, 1);
  assert.deepEqual(witness.closeEvents, []);

  session.assertFramesValid();
});

test('unknown lobby event is rejected', async (t) => {
  const session = await Session.start(t);
  const witness = await session.joinedWitness();

  // concurrent_1 unlocks shortly after the first join, so the snapshot waits for it.
  await witness.waitForEvent('evolution', (e) => e.id === 'concurrent_1', { timeoutMs: 7000 });
  const before = await session.state();

  const reply = await replyOf(witness.lobby.push('shout', { text: 'hello' }));
  assert.deepEqual(reply, { status: 'error', response: { reason: 'unknown event' } });

  const after = await session.state();
  assert.equal(after.concurrent_connections, before.concurrent_connections, 'nothing is counted');
  assert.equal(after.peak_connections, before.peak_connections);
  assert.deepEqual(after.unlocked_milestones, before.unlocked_milestones);
  assert.ok(witness.socket.isConnected(), 'the socket stays open');
  assert.ok(witness.lobby.isJoined(), 'the channel stays joined');

  // A ping sends a heartbeat, and its reply shows that the socket is still served.
  const roundTrip = await within(new Promise((resolve) => witness.socket.ping(resolve)), 3000, 'the ping reply');
  assert.ok(roundTrip >= 0);

  session.assertFramesValid();
});

test('malformed frames close only their socket', async (t) => {
  const tickIntervalMs = 500;
  const session = await Session.start(t, { COLLECTIVE_TICK_INTERVAL_MS: String(tickIntervalMs) });
  const first = await session.joinedWitness();
  const second = await session.joinedWitness();
  const rejectedBefore = metricTotal((await session.metrics()).text, 'collective_rejected_frames_total') ?? 0;

  const oversized = JSON.stringify([null, '1', 'phoenix', 'heartbeat', { padding: 'x'.repeat(5000) }]);
  const cases = [
    { name: 'binary frame', code: 1003, frame: Buffer.from('[null,"1","phoenix","heartbeat",{}]') },
    { name: 'text that is not JSON', code: 1007, frame: '[null,"1","phoenix","heartbeat",{}' },
    { name: 'JSON object, not an array', code: 1008, frame: '{"topic":"phoenix","event":"heartbeat"}' },
    { name: 'array of three elements', code: 1008, frame: '[null,"1","phoenix"]' },
    { name: 'topic that is a number', code: 1008, frame: '[null,"1",42,"heartbeat",{}]' },
    { name: 'payload that is a string', code: 1008, frame: '[null,"1","phoenix","heartbeat","x"]' },
    { name: `frame of ${oversized.length} bytes, over 4096`, code: 1009, frame: oversized },
  ];

  // Each bad socket joins first, so the test also checks that its close
  // removes it from the count.
  const badSockets = [];
  for (const { name } of cases) {
    const client = await session.raw();
    const reply = await client.request(LOBBY, 'phx_join', {}, { joinRef: '1' });
    assert.deepEqual(reply[4], OK_REPLY, `the '${name}' socket joins`);
    badSockets.push(client);
  }
  assert.equal((await session.state()).concurrent_connections, 2 + cases.length);

  // 196 bad frames in all: each socket sends its kind 28 times without waiting.
  const framesPerSocket = Math.floor(200 / cases.length);
  cases.forEach(({ frame }, index) => {
    for (let i = 0; i < framesPerSocket; i++) badSockets[index].send(frame);
  });

  const closes = [];
  for (const [index, { name }] of cases.entries()) {
    const { code, reason } = await badSockets[index].closedWithin(5000);
    closes.push({ name, code, reason });
  }

  await waitFor(async () => (await session.state()).concurrent_connections === 2, {
    timeoutMs: 2000,
    what: 'the count to return to the two well-behaved witnesses',
  });
  const after = await session.state();
  assert.equal(after.peak_connections, 2 + cases.length);

  // The well-behaved witnesses stay connected and still get the next tick.
  for (const witness of [first, second]) {
    assert.deepEqual(witness.closeEvents, []);
    assert.ok(witness.socket.isConnected());
    const { payload: tick } = await witness.waitForEvent('tick', () => true, {
      after: witness.received.length,
      timeoutMs: 3 * tickIntervalMs + 1000,
    });
    assert.equal(tick.concurrent_connections, 2);
  }

  const rejectedAfter = metricTotal((await session.metrics()).text, 'collective_rejected_frames_total');
  assert.ok(
    rejectedAfter - rejectedBefore >= cases.length,
    `collective_rejected_frames_total rose by ${rejectedAfter - rejectedBefore}, expected at least ${cases.length}`,
  );

  // One table, so that a failure shows every close code at once. A client
  // reports 1006 when the connection ended without a close frame.
  t.diagnostic(`close frames: ${JSON.stringify(closes)}`);
  assert.deepEqual(
    closes.map(({ name, code }) => ({ name, code })),
    cases.map(({ name, code }) => ({ name, code })),
    'each malformed frame closes its socket with the fitting code',
  );

  session.assertFramesValid();
});

test('ticks arrive each interval with growing total', async (t) => {
  const tickIntervalMs = 300;
  const witnessCount = 2;
  const session = await Session.start(t, { COLLECTIVE_TICK_INTERVAL_MS: String(tickIntervalMs) });
  const first = await session.joinedWitness();
  const second = await session.joinedWitness();

  // Measure from the first tick that already counts both witnesses to the
  // first tick that arrives three seconds later.
  const start = await first.waitForEvent('tick', (p) => p.concurrent_connections === witnessCount, { timeoutMs: 2000 });
  const startIndex = first.received.indexOf(start);
  const end = await waitFor(
    () => first.received.slice(startIndex).find((e) => e.event === 'tick' && e.at - start.at >= 3000),
    { timeoutMs: 5000, intervalMs: 10, what: 'a tick three seconds after the first' },
  );
  const ticks = first.received.slice(startIndex, first.received.indexOf(end) + 1).filter((e) => e.event === 'tick');

  for (const [index, { payload }] of ticks.entries()) {
    assert.equal(payload.concurrent_connections, witnessCount);
    assert.equal(payload.peak_connections, witnessCount);
    if (index === 0) continue;
    const previous = ticks[index - 1].payload;
    assert.equal(payload.tick, previous.tick + 1, 'tick numbers have no gap');
    assert.ok(payload.total_connection_seconds >= previous.total_connection_seconds, 'the total never falls');
  }

  // The configured interval is used (not the 5 s default). The bound is
  // loose because a loaded machine delays ticks; Chronos then adds the
  // longer time instead of losing it, which the total below checks.
  const tickCount = end.payload.tick - start.payload.tick;
  const meanIntervalMs = (end.at - start.at) / tickCount;
  assert.ok(meanIntervalMs >= 0.9 * tickIntervalMs, `mean tick interval ${meanIntervalMs.toFixed(1)} ms`);
  assert.ok(meanIntervalMs <= 2 * tickIntervalMs, `mean tick interval ${meanIntervalMs.toFixed(1)} ms`);

  // The total grows by witnesses × the time between the two ticks. Both
  // arrival times carry delivery delay, and the total is reported in whole
  // seconds, so one tick of witness time plus one second is allowed.
  const growth = end.payload.total_connection_seconds - start.payload.total_connection_seconds;
  t.diagnostic(`${tickCount} ticks in ${end.at - start.at} ms, total grew by ${growth} s`);
  const expected = (witnessCount * (end.at - start.at)) / 1000;
  const tolerance = (witnessCount * tickIntervalMs) / 1000 + 1;
  assert.ok(
    Math.abs(growth - expected) <= tolerance,
    `total grew by ${growth} s over ${tickCount} ticks, expected ${expected.toFixed(2)} ± ${tolerance} s`,
  );

  // A broadcast is the same frame for every socket. The second witness may
  // read the last tick a moment after the first.
  await waitFor(() => second.events('tick').some((e) => e.payload.tick === end.payload.tick),
    { timeoutMs: 2000, what: `tick ${end.payload.tick} at the second witness` });
  for (const { payload } of ticks) {
    const same = second.events('tick').find((e) => e.payload.tick === payload.tick);
    assert.deepEqual(same?.payload, payload, `tick ${payload.tick} reaches the second witness unchanged`);
  }

  session.assertFramesValid();
});

test('concurrent_10 evolution reaches all once', async (t) => {
  const tickIntervalMs = 500;
  const session = await Session.start(t, { COLLECTIVE_TICK_INTERVAL_MS: String(tickIntervalMs) });
  const witnesses = [];
  for (let i = 0; i < 9; i++) witnesses.push(await session.joinedWitness());

  assert.ok(!(await session.state()).unlocked_milestones.includes('concurrent_10'), 'nine witnesses are not ten');
  for (const witness of witnesses) {
    assert.equal(witness.events('evolution').filter((e) => e.payload.id === 'concurrent_10').length, 0);
  }

  const joinedAt = Date.now();
  witnesses.push(await session.joinedWitness());
  const isTen = (e) => e.id === 'concurrent_10';
  for (const witness of witnesses) {
    await witness.waitForEvent('evolution', isTen, { timeoutMs: 2 * tickIntervalMs + 2000 });
  }

  // Two more ticks give a second announcement the time to show up.
  await sleep(2 * tickIntervalMs);
  const announcements = witnesses.map((witness) => witness.events('evolution').filter((e) => isTen(e.payload)));
  for (const [index, received] of announcements.entries()) {
    assert.equal(received.length, 1, `witness ${index + 1} receives concurrent_10 once`);
  }
  const evolution = announcements[0][0].payload;
  assert.deepEqual(evolutionFields(evolution), evolutionFields(catalogue.find((m) => m.id === 'concurrent_10')));
  const unlockedAt = Date.parse(evolution.unlocked_at);
  assert.ok(unlockedAt >= joinedAt - 1000, `unlocked_at ${evolution.unlocked_at} is before the tenth join`);
  assert.ok(unlockedAt <= Date.now() + 1000, `unlocked_at ${evolution.unlocked_at} is in the future`);
  for (const received of announcements) assert.deepEqual(received[0].payload, evolution);

  const state = await session.state();
  assert.ok(state.unlocked_milestones.includes('concurrent_10'));
  assert.equal(state.concurrent_connections, 10);
  assert.equal(state.peak_connections, 10);

  // Presence is coalesced to at most 4 a second, and the last one is not lost.
  // The 150 ms margin absorbs delivery jitter on this side.
  const { payload: lastPresence } = await witnesses[0].waitForEvent('presence', (p) => p.concurrent_connections === 10);
  assert.deepEqual(lastPresence, { concurrent_connections: 10, peak_connections: 10 });
  const presenceTimes = witnesses[0].events('presence').map((e) => e.at);
  for (let i = 0; i + 4 < presenceTimes.length; i++) {
    const spanMs = presenceTimes[i + 4] - presenceTimes[i];
    assert.ok(spanMs >= 850, `5 presence events within ${spanMs} ms`);
  }

  session.assertFramesValid();
});

test('bad configuration stops the server', async (t) => {
  const rows = [
    { name: 'PORT that is not a number', variable: 'PORT', value: 'abc' },
    { name: 'PORT over 65535', variable: 'PORT', value: '70000' },
    { name: 'tick interval of zero', variable: 'COLLECTIVE_TICK_INTERVAL_MS', value: '0' },
    { name: 'negative tick interval', variable: 'COLLECTIVE_TICK_INTERVAL_MS', value: '-5' },
    { name: 'idle timeout that is not a number', variable: 'COLLECTIVE_IDLE_TIMEOUT_MS', value: 'soon' },
    { name: 'frame limit that is not a number', variable: 'COLLECTIVE_MAX_FRAME_BYTES', value: 'big' },
    { name: 'thread count that is not a number', variable: 'COLLECTIVE_THREADS', value: 'many' },
  ];

  for (const { name, variable, value } of rows) {
    await t.test(name, async () => {
      const { code, signal, stderr } = await runUntilExit({ [variable]: value });
      assert.equal(signal, null, `the server must exit, not die by ${signal}; stderr:\n${stderr}`);
      assert.notEqual(code, 0, `${variable}=${value} must give a non-zero exit status`);
      assert.ok(stderr.includes(variable), `stderr must name ${variable}; it was:\n${stderr}`);
    });
  }
});

test('HTTP routes answer', async (t) => {
  const tickIntervalMs = 300;
  const threads = 2;
  const session = await Session.start(t, {
    COLLECTIVE_TICK_INTERVAL_MS: String(tickIntervalMs),
    COLLECTIVE_THREADS: String(threads),
  });
  const base = session.server.httpUrl;
  await session.joinedWitness();
  await session.raw();

  const live = await fetch(`${base}/health/live`);
  assert.equal(live.status, 200);
  assert.match(live.headers.get('content-type') ?? '', /application\/json/);
  await live.json();

  const ready = await waitFor(async () => {
    const response = await fetch(`${base}/health/ready`);
    const body = await response.json();
    return response.status === 200 ? body : null;
  }, { timeoutMs: 3 * tickIntervalMs + 2000, what: '/health/ready to answer 200' });
  assert.equal(typeof ready.status, 'string');

  // Wait for two ticks and the first milestone, so every field has a value.
  const state = await waitFor(async () => {
    const body = await session.state();
    return body.chronos?.ticks >= 2 && body.unlocked_milestones?.includes('concurrent_1') ? body : null;
  }, { timeoutMs: 3000, what: 'two ticks and concurrent_1 in /metrics/state' });
  assert.equal(state.concurrent_connections, 1);
  assert.equal(state.peak_connections, 1);
  assert.ok(Number.isInteger(state.total_connection_seconds), `total_connection_seconds ${state.total_connection_seconds}`);
  assert.ok(state.total_connection_seconds >= 0);
  assert.deepEqual(state.unlocked_milestones, ['concurrent_1']);
  assert.equal(state.node.witnesses, 1);
  assert.equal(state.node.connections, 2, 'one joined and one unjoined socket are open');
  assert.equal(state.node.threads, threads);
  assert.equal(state.store.backend, 'embedded');
  assert.equal(state.store.ready, true);
  assert.ok(Number.isInteger(state.chronos.ticks));
  assert.equal(state.chronos.tick_interval_ms, tickIntervalMs);
  assert.ok(Math.abs(Date.parse(state.chronos.last_tick_at) - Date.now()) < 5000, `last_tick_at ${state.chronos.last_tick_at}`);
  assert.equal(typeof state.chronos.last_tick_duration_ms, 'number');
  assert.ok(state.chronos.last_tick_duration_ms >= 0);
  assert.equal(typeof state.chronos.drift_ms, 'number');

  const evolution = await fetch(`${base}/metrics/evolution`);
  assert.equal(evolution.status, 200);
  const evolutionText = JSON.stringify(await evolution.json());
  for (const { id } of catalogue) assert.ok(evolutionText.includes(`"${id}"`), `/metrics/evolution lists ${id}`);

  const metrics = await session.metrics();
  assert.equal(metrics.status, 200);
  assert.match(metrics.contentType ?? '', /^text\/plain/);
  assert.deepEqual(parsePrometheus(metrics.text).invalid, [], 'every line is a comment or a sample');
  assert.match(metrics.text, /^# TYPE collective_witnesses \w+$/m);
  assert.match(metrics.text, /^# TYPE collective_rejected_frames_total counter$/m);
  assert.equal(metricTotal(metrics.text, 'collective_witnesses'), 1);
  assert.equal(metricTotal(metrics.text, 'collective_rejected_frames_total'), 0);

  const plainGet = await fetch(`${base}/socket/websocket`);
  assert.equal(plainGet.status, 426, 'a GET without Upgrade must answer 426 Upgrade Required');
  assert.equal(plainGet.headers.get('upgrade'), 'websocket');
  assert.match(plainGet.headers.get('connection') ?? '', /\bupgrade\b/i);
  await plainGet.arrayBuffer();

  const unknown = await fetch(`${base}/no-such-route`);
  assert.equal(unknown.status, 404);
  await unknown.arrayBuffer();

  session.assertFramesValid();
});
