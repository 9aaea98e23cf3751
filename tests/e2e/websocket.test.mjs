// RFC 6455 on the wire, with a raw TCP client: the server's responses to
// good and bad opening handshakes, the frames the ws package never sends
// (unmasked, reserved bits, fragments with a ping between them), both close
// handshakes, and frames broadcast together arriving in one write.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { clientFrame, messageOf, messagesByRead, openWebSocket, RawClient, upgradeRequest } from './lib/rawsocket.mjs';
import { startServer, waitFor } from './lib/server.mjs';

const handshakeGuid = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

const closeCodeOf = (frame) => frame.payload.readUInt16BE(0);


test('handshake answered with the accept key', async (t) => {
  const server = await startServer();
  t.after(() => server.dispose());

  const key = randomBytes(16).toString('base64');
  const client = await RawClient.open(server.port);
  t.after(() => client.destroy());
  client.send(upgradeRequest({ key }));
  const head = await client.responseHead();

  const expected = createHash('sha1').update(key + handshakeGuid).digest('base64');
  assert.match(head, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  assert.match(head, /\r\nUpgrade: websocket\r\n/i);
  assert.ok(head.includes(`\r\nSec-WebSocket-Accept: ${expected}\r\n`), `accept key missing in:\n${head}`);
});

test('bad handshakes get their HTTP status', async (t) => {
  const server = await startServer();
  t.after(() => server.dispose());

  const cases = [
    {
      name: 'version 8', request: upgradeRequest({ version: '8' }), status: 426,
      headers: [/\r\nSec-WebSocket-Version: 13\r\n/, /\r\nUpgrade: websocket\r\n/, /\r\nConnection: Upgrade, close\r\n/],
    },
    { name: 'key of 8 bytes', request: upgradeRequest({ key: 'c2hvcnRrZXk=' }), status: 400 },
    { name: 'POST', request: upgradeRequest({ method: 'POST' }), status: 400 },
    { name: 'other path', request: upgradeRequest({ path: '/elsewhere' }), status: 404 },
    { name: 'head over 8 KiB', request: upgradeRequest({ extra: `X-Filler: ${'x'.repeat(9000)}\r\n` }), status: 431 },
  ];
  for (const { name, request, status, headers = [] } of cases) {
    const client = await RawClient.open(server.port);
    client.send(request);
    const head = await client.responseHead();
    assert.match(head, new RegExp(`^HTTP/1\\.1 ${status} `), `${name}: ${head}`);
    for (const header of headers) assert.match(head, header, `${name}: ${head}`);
    await client.closed();
  }
});

test('upgrade after a kept-alive request gets 400', async (t) => {
  const server = await startServer();
  t.after(() => server.dispose());

  const client = await RawClient.open(server.port);
  t.after(() => client.destroy());
  client.send('GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  assert.match(await client.responseHead(), /^HTTP\/1\.1 200 /);

  client.received = Buffer.alloc(0);
  client.send(upgradeRequest());
  assert.match(await client.responseHead(), /^HTTP\/1\.1 400 /);
});

test('ping gets pong, fragments are joined', async (t) => {
  const server = await startServer();
  t.after(() => server.dispose());
  const client = await openWebSocket(server.port);
  t.after(() => client.destroy());

  client.send(clientFrame(0x89, 'are you there'));
  const pong = await client.frame((f) => f.opcode === 0xa, 'a pong');
  assert.equal(pong.payload.toString(), 'are you there');

  // A heartbeat in three fragments with a ping between the first two.
  const heartbeat = '[null,"7","phoenix","heartbeat",{}]';
  client.send(Buffer.concat([
    clientFrame(0x01, heartbeat.slice(0, 10)),
    clientFrame(0x89, ''),
    clientFrame(0x00, heartbeat.slice(10, 20)),
    clientFrame(0x80, heartbeat.slice(20)),
  ]));
  const reply = await client.frame((f) => f.opcode === 0x1 && f.payload.toString().includes('"7"'), 'the heartbeat reply');
  assert.deepEqual(JSON.parse(reply.payload.toString()), [null, '7', 'phoenix', 'phx_reply', { status: 'ok', response: {} }]);
});

test('protocol violations close with 1002', async (t) => {
  const server = await startServer();
  t.after(() => server.dispose());

  const cases = [
    { name: 'unmasked frame', frame: clientFrame(0x81, '[]', { masked: false }) },
    { name: 'reserved bit', frame: clientFrame(0xc1, '[]') },
    { name: 'continuation first', frame: clientFrame(0x80, '[]') },
    { name: 'fragmented ping', frame: clientFrame(0x09, 'x') },
  ];
  for (const { name, frame } of cases) {
    const client = await openWebSocket(server.port);
    client.send(frame);
    const close = await client.frame((f) => f.opcode === 0x8, `${name}: a close frame`);
    assert.equal(closeCodeOf(close), 1002, name);
    await client.closed();
  }

  const metrics = await (await fetch(`${server.httpUrl}/metrics`)).text();
  assert.match(metrics, /^collective_rejected_frames_total\{reason="protocol_error"\} 4$/m);
});

test('client close echoed, then the server closes', async (t) => {
  const server = await startServer();
  t.after(() => server.dispose());
  const client = await openWebSocket(server.port);
  t.after(() => client.destroy());

  const payload = Buffer.concat([Buffer.from([0x0f, 0xa0]), Buffer.from('bye')]); // 4000
  client.send(clientFrame(0x88, payload));
  const close = await client.frame((f) => f.opcode === 0x8, 'the echoed close frame');
  assert.equal(closeCodeOf(close), 4000);
  await client.closed();
  await waitFor(async () => (await server.state()).body.node.connections === 0, { what: 'no open connection' });
});

test('tick and milestone in one write', async (t) => {
  // A Collective one second short of time_1m, whose first join's milestone
  // (concurrent_1) is already unlocked: the tick that adds the missing
  // second unlocks time_1m, and its announcement rides on that tick.
  const dataDir = mkdtempSync(join(tmpdir(), 'collective-e2e-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  writeFileSync(join(dataDir, 'collective-state.json'), JSON.stringify({
    version: 1, total_connection_seconds: 59, peak_connections: 1, unlocked_milestones: ['concurrent_1'],
  }));
  const server = await startServer({ dataDir, env: { COLLECTIVE_TICK_INTERVAL_MS: '500', COLLECTIVE_THREADS: '1' } });
  t.after(() => server.dispose());
  const client = await openWebSocket(server.port);
  t.after(() => client.destroy());
  client.send(clientFrame(0x81, '["1","1","collective:lobby","phx_join",{}]'));

  const isEvolution = (frame) => frame.opcode === 0x1 && messageOf(frame)[3] === 'evolution';
  const evolution = messageOf(await client.frame(isEvolution, 'the time_1m announcement'));
  assert.equal(evolution[4].id, 'time_1m');

  // The read that brought the announcement brought, in front of it, the tick
  // that reached 60 seconds. Every earlier tick was short of 60.
  const reads = messagesByRead(client);
  const withEvolution = reads.find((messages) => messages.some((message) => message[3] === 'evolution'));
  assert.deepEqual(withEvolution.map((message) => message[3]), ['tick', 'evolution']);
  assert.ok(withEvolution[0][4].total_connection_seconds >= 60, JSON.stringify(withEvolution[0]));
  const earlierTicks = reads.slice(0, reads.indexOf(withEvolution)).flat().filter((message) => message[3] === 'tick');
  for (const tick of earlierTicks) assert.ok(tick[4].total_connection_seconds < 60, JSON.stringify(tick));

  // One socket thread: the two broadcasts took one fan-out between them.
  const metrics = await (await fetch(`${server.httpUrl}/metrics`)).text();
  const sample = (name) => Number(metrics.match(new RegExp(`^${name} (\\S+)$`, 'm'))[1]);
  assert.ok(sample('collective_broadcasts_total') - sample('collective_broadcast_fanout_seconds_count') >= 1,
    `broadcasts ${sample('collective_broadcasts_total')}, fan-outs ${sample('collective_broadcast_fanout_seconds_count')}`);
});
