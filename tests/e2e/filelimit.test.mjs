// End-to-end test at the open-file limit: the server pauses accepting below
// the limit instead of failing accept() in a loop, stays idle while paused,
// and admits the waiting connection once witnesses leave.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';

import { ServerProcess, sleep, waitFor } from './lib/server.mjs';

// With 200 descriptors the server keeps 64 in reserve and admits 136
// WebSockets (see connectionLimit() in the node).
const FILE_LIMIT = 200;
const ADMITTED = 136;

function openWitness(server) {
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/socket/websocket?vsn=2.0.0`);
  ws.opened = new Promise((resolve) => {
    ws.on('open', () => {
      ws.send(JSON.stringify(['1', '1', 'collective:lobby', 'phx_join', {}]));
      resolve(true);
    });
    ws.on('error', () => resolve(false));
  });
  return ws;
}

// CPU seconds (user + system) the process has used.
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

test('open-file limit pauses accepting without spinning', async (t) => {
  const server = new ServerProcess({ openFileLimit: FILE_LIMIT, env: { COLLECTIVE_THREADS: '1' } });
  await server.start();
  const sockets = [];
  t.after(async () => {
    for (const ws of sockets) ws.terminate();
    await server.dispose();
  });

  // The count is read before the last admitted witness: at the limit the
  // HTTP routes wait in the accept queue too.
  for (let i = 0; i < ADMITTED; i++) {
    if (i === ADMITTED - 1) {
      await waitFor(async () => (await server.state()).body.concurrent_connections === ADMITTED - 1,
        { what: `${ADMITTED - 1} witnesses` });
    }
    const ws = openWitness(server);
    sockets.push(ws);
    assert.ok(await ws.opened, `witness ${i + 1} of ${ADMITTED} connects`);
  }

  // One more waits in the kernel's accept queue: no upgrade, no error.
  const waiting = openWitness(server);
  sockets.push(waiting);
  const early = await Promise.race([waiting.opened, sleep(1000).then(() => 'pending')]);
  assert.equal(early, 'pending');

  // Paused, the server is idle: less than a tenth of a core over 2 s.
  const pid = server.child.pid;
  const before = cpuSeconds(pid);
  await sleep(2000);
  const used = cpuSeconds(pid) - before;
  assert.ok(used < 0.2, `the server used ${used.toFixed(2)} CPU seconds in 2 s while paused`);

  // Witnesses leave; accepting resumes below the limit and the waiting
  // connection is admitted.
  for (const ws of sockets.splice(0, 20)) ws.close();
  assert.equal(await Promise.race([waiting.opened, sleep(10000).then(() => 'still pending')]), true);
  await waitFor(async () => (await server.state()).body.concurrent_connections === ADMITTED - 20 + 1,
    { what: 'the count after the leaves and the late join' });

  const metrics = await (await fetch(`${server.httpUrl}/metrics`)).text();
  assert.match(metrics, /^collective_accept_pauses_total [1-9]/m);
});
