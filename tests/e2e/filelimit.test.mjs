// End-to-end tests at the open-file limit. A node at its WebSocket limit
// rejects further upgrades with 503 and still serves its health checks and
// metrics. Accepting pauses only when connections of every kind near the
// open-file limit, and a connection accepted past that gets 503 at once, so
// the server never runs out of descriptors. It stays idle while paused and
// resumes once connections close.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { get } from 'node:http';
import { connect } from 'node:net';
import WebSocket from 'ws';

import { ServerProcess, sleep, waitFor } from './lib/server.mjs';

// With 200 descriptors the server keeps 64 in reserve: it admits 136
// WebSockets and pauses accepting at 168 connections held, half-way into
// the reserve (see connectionLimits() in the node).
const FILE_LIMIT = 200;
const ADMITTED = 136;
const HELD_CEILING = 168;

// Opens a witness; `opened` resolves with true once it joined, or with the
// HTTP status and Retry-After of a refused upgrade.
function openWitness(server) {
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/socket/websocket?vsn=2.0.0`);
  ws.opened = new Promise((resolve) => {
    ws.on('open', () => {
      ws.send(JSON.stringify(['1', '1', 'collective:lobby', 'phx_join', {}]));
      resolve(true);
    });
    ws.on('unexpected-response', (request, response) => {
      resolve({
        status: response.statusCode,
        statusMessage: response.statusMessage,
        retryAfter: response.headers['retry-after'],
      });
      request.destroy();
    });
    ws.on('error', () => resolve(false));
  });
  return ws;
}

// A GET on a connection of its own, so no kept-alive connection hides
// whether the server accepts new ones.
function freshGet(server, path) {
  return new Promise((resolve, reject) => {
    const request = get({ host: '127.0.0.1', port: server.port, path, agent: false }, (response) => {
      let body = '';
      response.on('data', (chunk) => { body += chunk; });
      response.on('end', () => resolve({ status: response.statusCode, body }));
    });
    request.on('error', reject);
  });
}

function metricValue(text, sample) {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
}

// CPU seconds (user + system) the process has used.
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

test('full node rejects upgrades with 503', async (t) => {
  // Two socket threads: the limit is the process's, and so is its log line.
  const server = new ServerProcess({ openFileLimit: FILE_LIMIT, env: { COLLECTIVE_THREADS: '2' } });
  await server.start();
  const sockets = [];
  t.after(async () => {
    for (const ws of sockets) ws.terminate();
    await server.dispose();
  });

  for (let i = 0; i < ADMITTED; i++) {
    const ws = openWitness(server);
    sockets.push(ws);
    assert.equal(await ws.opened, true, `witness ${i + 1} of ${ADMITTED} connects`);
  }
  await waitFor(async () => (await server.state()).body.concurrent_connections === ADMITTED,
    { what: `${ADMITTED} witnesses` });

  // More are turned away at once, with a hint when to come back, and the
  // limit is logged once.
  for (let i = 0; i < 4; i++) {
    const extra = openWitness(server);
    sockets.push(extra);
    const rejection = await Promise.race([extra.opened, sleep(5000).then(() => 'no answer within 5 s')]);
    assert.deepEqual(rejection, { status: 503, statusMessage: 'Service Unavailable', retryAfter: '5' });
  }
  assert.equal(server.output.match(/at its connection limit/g)?.length, 1);

  // The full node still serves its health checks and metrics.
  const live = await freshGet(server, '/health/live');
  assert.equal(live.status, 200);
  const ready = await freshGet(server, '/health/ready');
  assert.equal(ready.status, 200);
  const metrics = (await freshGet(server, '/metrics')).body;
  assert.equal(metricValue(metrics, 'collective_refused_connections_total{reason="at_capacity"}'), 4);
  assert.equal(metricValue(metrics, 'collective_connections'), ADMITTED);
  assert.equal(metricValue(metrics, 'collective_accept_pauses_total'), 0);

  // A witness leaves, and the next upgrade takes its place.
  sockets.shift().close();
  await waitFor(async () => (await server.state()).body.concurrent_connections === ADMITTED - 1,
    { what: 'the count after one leave' });
  const late = openWitness(server);
  sockets.push(late);
  assert.equal(await late.opened, true);
  await waitFor(async () => (await server.state()).body.concurrent_connections === ADMITTED,
    { what: 'the count after the late join' });
});

test('connections past the ceiling pause accepting', async (t) => {
  // Connections that never send a request stay held until the handshake
  // timeout, which is set past the test's length.
  const server = new ServerProcess({
    openFileLimit: FILE_LIMIT,
    env: { COLLECTIVE_THREADS: '1', COLLECTIVE_HANDSHAKE_TIMEOUT_MS: '60000' },
  });
  await server.start();
  const idle = [];
  t.after(async () => {
    for (const socket of idle) socket.destroy();
    await server.dispose();
  });

  // As many silent connections as the ceiling (with the harness's own
  // kept-alive one, one more): the kernel completes each TCP handshake, and
  // the server holds up to the ceiling and pauses. Few connections wait
  // behind the pause, so the request below is admitted on resuming and does
  // not get the 503 of a connection accepted while the node is full.
  for (let i = 0; i < HELD_CEILING; i++) {
    const socket = connect({ host: '127.0.0.1', port: server.port });
    socket.on('error', () => {});
    idle.push(socket);
  }
  await Promise.all(idle.map((socket) => new Promise((resolve) => socket.once('connect', resolve))));
  await waitFor(() => /paused accepting/.test(server.output), { what: 'the pause in the server log' });

  // A request that comes after the pause waits in the accept queue.
  const pending = freshGet(server, '/health/live');
  const early = await Promise.race([pending, sleep(1000).then(() => 'pending')]);
  assert.equal(early, 'pending');

  // Paused, the server is idle: less than a tenth of a core over 2 s.
  const pid = server.child.pid;
  const before = cpuSeconds(pid);
  await sleep(2000);
  const used = cpuSeconds(pid) - before;
  assert.ok(used < 0.2, `the server used ${used.toFixed(2)} CPU seconds in 2 s while paused`);

  // The silent connections close; accepting resumes and the request is served.
  for (const socket of idle.splice(0)) socket.destroy();
  const answer = await Promise.race([pending, sleep(10000).then(() => 'still pending')]);
  assert.equal(answer.status, 200);

  // One pause at the ceiling, none from accept() failing for want of a
  // descriptor.
  const metrics = (await freshGet(server, '/metrics')).body;
  assert.equal(metricValue(metrics, 'collective_accept_pauses_total'), 1);
  assert.doesNotMatch(server.output, /failed to accept/);
  await waitFor(async () => metricValue((await freshGet(server, '/metrics')).body, 'collective_held_connections') <= 2,
    { what: 'held connections back to the harness and this request' });
});

test('full node resumes accepting after a burst', async (t) => {
  // With 2000 descriptors the reserve is 100: 1900 WebSockets, a pause at
  // 1950 connections held, and accepting resumes below 1925, while the
  // node is still full of witnesses.
  const server = new ServerProcess({
    openFileLimit: 2000,
    env: { COLLECTIVE_THREADS: '1', COLLECTIVE_HANDSHAKE_TIMEOUT_MS: '60000' },
  });
  await server.start();
  const sockets = [];
  const idle = [];
  t.after(async () => {
    for (const ws of sockets) ws.terminate();
    for (const socket of idle) socket.destroy();
    await server.dispose();
  });

  for (let batch = 0; batch < 19; batch++) {
    const opened = [];
    for (let i = 0; i < 100; i++) {
      const ws = openWitness(server);
      sockets.push(ws);
      opened.push(ws.opened);
    }
    assert.ok((await Promise.all(opened)).every((result) => result === true), `batch ${batch + 1} of 19 connects`);
  }
  await waitFor(async () => (await server.state()).body.concurrent_connections === 1900,
    { what: '1900 witnesses' });

  // A burst of silent connections takes the node to its ceiling.
  for (let i = 0; i < 60; i++) {
    const socket = connect({ host: '127.0.0.1', port: server.port });
    socket.on('error', () => {});
    idle.push(socket);
  }
  await waitFor(() => /paused accepting/.test(server.output), { what: 'the pause in the server log' });

  // Once the burst has gone, the full node takes new connections again.
  for (const socket of idle.splice(0)) socket.destroy();
  const live = await Promise.race([freshGet(server, '/health/live'), sleep(5000).then(() => 'no answer within 5 s')]);
  assert.equal(live.status, 200);
  const metrics = (await freshGet(server, '/metrics')).body;
  assert.equal(metricValue(metrics, 'collective_connections'), 1900);
  assert.equal(metricValue(metrics, 'collective_accept_pauses_total'), 1);
});
