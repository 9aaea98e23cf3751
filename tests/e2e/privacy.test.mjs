// Privacy proof: after many witnesses join and leave, from known source
// addresses and with a recognisable user agent, none of those appear in the
// server's logs (info and debug), in Redis, or in the embedded store's file.
// The witnesses also misbehave a little (a bad frame, a refused origin) so
// that the error paths' log lines are searched too.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';

import { startRedis } from './lib/redis.mjs';
import { ServerProcess, sleep, waitFor } from './lib/server.mjs';

const SOURCE_ADDRESSES = ['127.0.0.55', '127.0.0.66', '127.0.0.77'];
const USER_AGENT = 'PrivacyProbe/7.7 (witness-marker-b81f)';
const MARKERS = [...SOURCE_ADDRESSES, USER_AGENT, 'witness-marker-b81f', 'PrivacyProbe'];
const DEBUG_LOGGING = 'collective.*.debug=true;collective.chronos.debug=false';

function openWitness(server, localAddress, { origin, join: joins = true } = {}) {
  return new Promise((resolve) => {
    const headers = { 'User-Agent': USER_AGENT, ...(origin ? { Origin: origin } : {}) };
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/socket/websocket?vsn=2.0.0`, { localAddress, headers });
    ws.on('unexpected-response', (request) => { request.destroy(); resolve(null); });
    ws.on('error', () => resolve(null));
    ws.on('open', () => {
      if (joins) ws.send(JSON.stringify(['1', '1', 'collective:lobby', 'phx_join', {}]));
      resolve(ws);
    });
  });
}

// Joins and leaves witnesses from every source address, with one bad frame
// and one refused origin per address.
async function churn(server) {
  for (const address of SOURCE_ADDRESSES) {
    const witnesses = [];
    for (let i = 0; i < 10; i++) witnesses.push(await openWitness(server, address));
    await sleep(300);
    for (const ws of witnesses) ws.send(JSON.stringify(['1', '2', 'collective:lobby', 'phx_leave', {}]));
    const bad = await openWitness(server, address, { join: false });
    bad.send('this is not json');
    await openWitness(server, address, { origin: 'https://elsewhere.invalid' });
    await sleep(200);
    for (const ws of witnesses) ws.close();
  }
  await waitFor(async () => (await server.state()).body.node.connections === 0, { what: 'every socket to close' });
}

function assertNoMarker(text, where) {
  for (const marker of MARKERS) {
    assert.ok(!text.includes(marker), `${where} contains "${marker}"`);
  }
}

test('no address or user agent is kept', async (t) => {
  const redis = await startRedis();
  const withRedis = new ServerProcess({ env: { REDIS_URL: `redis://127.0.0.1:${redis.port}`,
                                               COLLECTIVE_TICK_INTERVAL_MS: '300', QT_LOGGING_RULES: DEBUG_LOGGING } });
  const embedded = new ServerProcess({ env: { COLLECTIVE_TICK_INTERVAL_MS: '300', QT_LOGGING_RULES: DEBUG_LOGGING } });
  t.after(async () => {
    await withRedis.dispose();
    await embedded.dispose();
    await redis.dispose();
  });
  await withRedis.start();
  await embedded.start();

  await churn(withRedis);
  await churn(embedded);
  await withRedis.stop();
  await embedded.stop();

  // The logs at debug level, which include info and above.
  assert.ok(withRedis.output.includes('debug collective.socket'), 'debug logging was on');
  assertNoMarker(withRedis.output, 'the log of the server on Redis');
  assertNoMarker(embedded.output, 'the log of the server on the embedded store');

  // Every Redis key and value.
  const keys = (await redis.cli('KEYS', '*')).split('\n').filter(Boolean);
  assert.ok(keys.includes('global:total_connection_seconds'), `Redis keys: ${keys.join(', ')}`);
  let dump = keys.join('\n');
  for (const key of keys) {
    const type = await redis.cli('TYPE', key);
    if (type === 'string') dump += '\n' + (await redis.cli('GET', key));
    else if (type === 'set') dump += '\n' + (await redis.cli('SMEMBERS', key));
    else dump += `\n(${type})`;
  }
  assertNoMarker(dump, 'Redis');

  // Everything in the embedded store's data directory.
  const files = readdirSync(embedded.dataDir);
  assert.ok(files.includes('collective-state.json'), `data files: ${files.join(', ')}`);
  for (const file of files) assertNoMarker(readFileSync(join(embedded.dataDir, file), 'utf8'), `data file ${file}`);
});
