// End-to-end tests of several collective-server nodes that share one real
// redis-server: the global count after a node is killed, one announcement per
// milestone across nodes, a node that opens amid other nodes' events, ticks in
// step across nodes, a Redis outage and a Redis hang, and a node restart.
//
// Every test starts its own Redis on a free loopback port and its own server
// nodes with a 500 ms tick, so a node's key in Redis expires 750 ms after its
// last refresh. Witnesses use the official `phoenix` client, and every frame
// they receive is checked against shared/schema/messages.schema.json. Run with:
//
//   node --test --test-concurrency=1 redis.test.mjs
//
// COLLECTIVE_TEST_OUTAGE_MS sets how long Redis stays down in the outage test
// (30000 by default).

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { test } from 'node:test';

import { RedisProcess } from './lib/redis.mjs';
import { catalogue, checkedTransport, FrameLog } from './lib/schema.mjs';
import { ServerProcess, serverBinary, sleep, waitFor } from './lib/server.mjs';
import { eventually, nodeLogs, readiness, readState, sampleEvery, withDiagnostics, Witness } from './lib/witness.mjs';

const TICK_MS = 500;
const OUTAGE_MS = Number(process.env.COLLECTIVE_TEST_OUTAGE_MS ?? 30_000);

// The Redis keys that other tools read.
const CONCURRENT_KEY = 'global:concurrent_connections';
const TOTAL_KEY = 'global:total_connection_seconds';
const UNLOCKED_KEY = 'global:unlocked_milestones';
const PEAK_KEY = 'global:peak_connections';

const evolutionFields = ({ id, name, description, kind }) => ({ id, name, description, kind });

// One Redis, the server nodes that share it and their witnesses. dispose()
// closes the witnesses, then the nodes, then Redis, and removes their
// directories.
class Cluster {
  static async start(t, { nodes = 1 } = {}) {
    assert.ok(existsSync(serverBinary), `server binary not found at ${serverBinary}; build it or set COLLECTIVE_SERVER_BIN`);
    const cluster = new Cluster();
    t.after(() => cluster.dispose());
    await cluster.redis.start();
    await Promise.all(Array.from({ length: nodes }, () => cluster.startNode()));
    return cluster;
  }

  constructor() {
    this.redis = new RedisProcess();
    this.servers = [];
    this.witnesses = [];
    this.log = new FrameLog();
    this.transport = checkedTransport(this.log);
  }

  // Starts a node on this cluster's Redis, or on `redisUrl` in front of it,
  // and resolves once it is ready.
  async startNode({ redisUrl = this.redis.url } = {}) {
    const server = new ServerProcess({
      env: { REDIS_URL: redisUrl, COLLECTIVE_TICK_INTERVAL_MS: String(TICK_MS) },
    });
    this.servers.push(server);
    await server.start();
    await waitFor(async () => (await readiness(server)).status === 200, {
      timeoutMs: 5000,
      what: `node on port ${server.port} to report ready`,
    });
    return server;
  }

  witness(server) {
    const witness = new Witness(server, this.transport);
    this.witnesses.push(witness);
    return witness;
  }

  async joinedWitness(server) {
    const witness = this.witness(server);
    await witness.connect();
    await witness.join();
    return witness;
  }

  assertFramesValid() {
    assert.deepEqual(this.log.violations, [], 'every server frame must match the message schema');
  }

  // Runs `body` and, when it fails, adds each node's log, Redis's log and the
  // global keys to the test output before the failure is reported.
  run(t, body) {
    return withDiagnostics(t, () => this.describe(), body);
  }

  async describe() {
    const lines = nodeLogs(this.servers);
    lines.push('--- redis-server log:', this.redis.output.trimEnd());
    if (this.redis.running && !this.redis.paused) {
      for (const key of [CONCURRENT_KEY, PEAK_KEY, TOTAL_KEY]) {
        lines.push(`${key} = ${await this.redis.cli('GET', key).catch((e) => e.message)}`);
      }
      lines.push(`${UNLOCKED_KEY} = ${await this.redis.cli('SMEMBERS', UNLOCKED_KEY).catch((e) => e.message)}`);
      lines.push(`keys: ${await this.redis.cli('KEYS', '*').catch((e) => e.message)}`);
    }
    return lines.join('\n');
  }

  async dispose() {
    await Promise.all(this.witnesses.map((witness) => witness.close()));
    for (const server of this.servers) await server.dispose();
    await this.redis.dispose();
  }
}

// A TCP proxy in front of Redis that delays every byte a client sends by
// `delayMs`, as a slow link would. Replies and pub/sub messages pass at once.
async function startDelayingProxy(redisPort, delayMs) {
  const sockets = new Set();
  const server = createServer((client) => {
    const upstream = connect(redisPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (data) => setTimeout(() => { if (!upstream.destroyed) upstream.write(data); }, delayMs));
    upstream.on('data', (data) => client.write(data));
    for (const socket of [client, upstream]) {
      socket.on('close', close);
      socket.on('error', close);
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `redis://127.0.0.1:${server.address().port}`,
    close() {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

// Returns the node id that a server logged when it connected to Redis.
function nodeIdOf(server) {
  const match = /as node ([0-9a-f]+)/.exec(server.output);
  assert.ok(match, `no node id in the log of port ${server.port}:\n${server.output}`);
  return match[1];
}

// Lists a witness's counted events from `since` on, each as
// `event concurrent/peak +ms since then`.
function describeEvents(witness, since) {
  return witness.events
    .filter((entry) => entry.event !== 'evolution' && entry.at >= since)
    .map((entry) => `${entry.event} ${entry.payload.concurrent_connections}/${entry.payload.peak_connections} +${entry.at - since}ms`)
    .join(', ');
}

// Asserts that the peaks one witness was shown never fall.
function assertPeaksNonDecreasing(witness, label) {
  const peaks = witness.peaks();
  for (let i = 1; i < peaks.length; i++) {
    assert.ok(
      peaks[i].peak >= peaks[i - 1].peak,
      `${label} on port ${witness.server.port}: peak fell from ${peaks[i - 1].peak} (${peaks[i - 1].event}) ` +
        `to ${peaks[i].peak} (${peaks[i].event}); events: ${describeEvents(witness, witness.events[0].at)}`,
    );
  }
}

test('killed node stops counting within two ticks', async (t) => {
  const cluster = await Cluster.start(t, { nodes: 3 });
  await cluster.run(t, async () => {
    const [killed, second, third] = cluster.servers;
    const layout = [killed, killed, second, second, third];

    const witnesses = layout.map((server) => cluster.witness(server));
    await Promise.all(witnesses.map((witness) => witness.connect()));
    await Promise.all(witnesses.map((witness) => witness.join()));

    // Every witness, every node and Redis agree on 5.
    await eventually(() => {
      assert.deepEqual(witnesses.map((w) => w.latestCount()), [5, 5, 5, 5, 5], 'the count each witness was shown last');
    });
    await eventually(async () => {
      for (const [index, server] of cluster.servers.entries()) {
        const state = await readState(server);
        assert.equal(state.concurrent_connections, 5, `node ${index} concurrent_connections`);
        assert.equal(state.node.witnesses, layout.filter((s) => s === server).length, `node ${index} node.witnesses`);
        assert.equal(state.store.ready, true, `node ${index} store.ready`);
      }
    });
    // The nodes learn each other's counts by pub/sub at once; Redis's keys
    // follow at each node's next report, at most half a tick later.
    await eventually(async () => {
      assert.equal(await cluster.redis.getInteger(CONCURRENT_KEY), 5, CONCURRENT_KEY);
      assert.equal(await cluster.redis.getInteger(PEAK_KEY), 5, PEAK_KEY);
    }, { timeoutMs: 2 * TICK_MS });

    // Kill the node with two witnesses and time how long the others take to
    // show 3, as the survivors see it and as Redis stores it.
    const survivors = witnesses.slice(2);
    const killedKey = `{collective}:node:${nodeIdOf(killed)}`;
    const peakSampler = sampleEvery(50, () => cluster.redis.getInteger(PEAK_KEY));
    const killedAt = Date.now();
    const exit = await killed.stop('SIGKILL');
    assert.equal(exit.signal, 'SIGKILL');
    const killedKeyTtl = await cluster.redis.cli('PTTL', killedKey);

    // The count in Redis and the killed node's key, read every 50 ms.
    const deadline = 2 * TICK_MS + 300;
    const redisSamples = [];
    let witnessesCorrectAt = null;
    let redisCorrectAt = null;
    await waitFor(async () => {
      if (witnessesCorrectAt === null && survivors.every((w) => w.latestCount() === 3)) witnessesCorrectAt = Date.now();
      const count = await cluster.redis.getInteger(CONCURRENT_KEY);
      redisSamples.push(`+${Date.now() - killedAt}ms ${count} (key ${await cluster.redis.cli('PTTL', killedKey)})`);
      if (redisCorrectAt === null && count === 3) redisCorrectAt = Date.now();
      return witnessesCorrectAt !== null && redisCorrectAt !== null;
    }, { timeoutMs: 4 * TICK_MS + 1000, intervalMs: 50, what: 'survivors and Redis to show 3 after the kill' }).catch(() => {});

    t.diagnostic(
      `kill to count 3: witnesses ${witnessesCorrectAt === null ? 'never' : `${witnessesCorrectAt - killedAt} ms`}, ` +
        `Redis ${redisCorrectAt === null ? 'never' : `${redisCorrectAt - killedAt} ms`} (limit ${deadline} ms); ` +
        `PTTL of the killed node's key right after the kill: ${killedKeyTtl} ms`,
    );
    t.diagnostic(`${CONCURRENT_KEY} after the kill (PTTL of the killed node's key): ${redisSamples.join(', ')}`);
    t.diagnostic(`survivor events after the kill: ${survivors.map((w) => describeEvents(w, killedAt)).join(' | ')}`);
    assert.notEqual(witnessesCorrectAt, null, `survivors last showed ${survivors.map((w) => w.latestCount())}`);
    assert.notEqual(redisCorrectAt, null, `${CONCURRENT_KEY} never became 3`);
    assert.ok(witnessesCorrectAt - killedAt <= deadline, `survivors showed 3 after ${witnessesCorrectAt - killedAt} ms`);
    assert.ok(redisCorrectAt - killedAt <= deadline, `Redis showed 3 after ${redisCorrectAt - killedAt} ms`);

    // The count stays at 3 for two more ticks, on the survivors' nodes too.
    const settledAt = Date.now();
    await sleep(2 * TICK_MS + 100);
    for (const [index, witness] of survivors.entries()) {
      const later = witness.events.filter((e) => e.at >= settledAt && e.event !== 'evolution');
      assert.ok(later.length > 0, `survivor ${index} got no tick in ${2 * TICK_MS + 100} ms`);
      assert.deepEqual(later.map((e) => e.payload.concurrent_connections).filter((n) => n !== 3), [],
        `survivor ${index} was shown a count other than 3 after it settled`);
    }
    for (const server of [second, third]) {
      const state = await readState(server);
      assert.equal(state.concurrent_connections, 3, `/metrics/state on port ${server.port} after the kill`);
      assert.equal(state.peak_connections, 5, `/metrics/state peak on port ${server.port} after the kill`);
    }
    assert.equal(await cluster.redis.getInteger(CONCURRENT_KEY), 3, `${CONCURRENT_KEY} after it settled`);

    // The peak never fell: not for any witness, not after the kill, not in Redis.
    const redisPeaks = await peakSampler.stop();
    for (const [index, witness] of witnesses.entries()) assertPeaksNonDecreasing(witness, `witness ${index}`);
    for (const [index, witness] of survivors.entries()) {
      const afterKill = witness.peaks().filter((p) => p.at >= killedAt).map((p) => p.peak);
      assert.deepEqual(afterKill.filter((peak) => peak !== 5), [], `survivor ${index} peaks after the kill: ${afterKill}`);
    }
    assert.deepEqual(
      redisPeaks.filter((s) => s.value !== 5),
      [],
      `${PEAK_KEY} sampled every 50 ms from the kill on (${redisPeaks.length} samples)`,
    );
    assert.equal(await cluster.redis.getInteger(PEAK_KEY), 5, `${PEAK_KEY} at the end`);

    cluster.assertFramesValid();
  });
});

test('milestone announced once across nodes', async (t) => {
  const cluster = await Cluster.start(t, { nodes: 3 });
  await cluster.run(t, async () => {
    const layout = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2].map((index) => cluster.servers[index]);
    const witnesses = layout.map((server) => cluster.witness(server));
    await Promise.all(witnesses.map((witness) => witness.connect()));

    // All ten joins go out at once, so the nodes race to claim concurrent_10.
    const welcomes = await Promise.all(witnesses.map((witness) => witness.join()));

    await eventually(() => {
      const missing = witnesses.flatMap((w, i) => (w.payloads('evolution').some((e) => e.id === 'concurrent_10') ? [] : [i]));
      assert.deepEqual(missing, [], 'witnesses that have not received evolution concurrent_10');
    }, { timeoutMs: 4 * TICK_MS + 1000 });

    // Give a late duplicate three ticks to arrive.
    await sleep(3 * TICK_MS);

    const expected = evolutionFields(catalogue.find((m) => m.id === 'concurrent_10'));
    for (const [index, witness] of witnesses.entries()) {
      const announcements = witness.payloads('evolution').filter((e) => e.id === 'concurrent_10');
      assert.equal(announcements.length, 1, `witness ${index} (port ${witness.server.port}) got concurrent_10 ${announcements.length} times`);
      assert.deepEqual(evolutionFields(announcements[0]), expected, `witness ${index} concurrent_10 payload`);
    }

    // concurrent_1 unlocked while the joins were racing. A witness learns of
    // it from its welcome or from one evolution event, never twice by event.
    let listedAndAnnounced = 0;
    for (const [index, witness] of witnesses.entries()) {
      const announcements = witness.payloads('evolution').filter((e) => e.id === 'concurrent_1').length;
      const listed = welcomes[index].unlocked_milestones.includes('concurrent_1');
      const seen =
        `welcome ${welcomes[index].concurrent_connections}/${welcomes[index].peak_connections} ` +
        `unlocked [${welcomes[index].unlocked_milestones}], events: ${describeEvents(witness, witness.events[0].at)}, ` +
        `evolution [${witness.payloads('evolution').map((e) => e.id)}]`;
      assert.ok(announcements <= 1, `witness ${index} got concurrent_1 ${announcements} times; ${seen}`);
      assert.ok(listed || announcements === 1,
        `witness ${index} on port ${witness.server.port} never learned of concurrent_1; ${seen}`);
      if (listed && announcements === 1) listedAndAnnounced++;
    }
    t.diagnostic(`witnesses whose welcome listed concurrent_1 and who also got its evolution event: ${listedAndAnnounced}`);

    const unlocked = await cluster.redis.members(UNLOCKED_KEY);
    assert.equal(unlocked.filter((id) => id === 'concurrent_10').length, 1, `SMEMBERS ${UNLOCKED_KEY}: ${unlocked}`);
    assert.ok(unlocked.includes('concurrent_1'), `SMEMBERS ${UNLOCKED_KEY}: ${unlocked}`);
    assert.equal(await cluster.redis.getInteger(CONCURRENT_KEY), 10, CONCURRENT_KEY);
    assert.equal(await cluster.redis.getInteger(PEAK_KEY), 10, PEAK_KEY);

    // Each node announced it to its own witnesses once.
    for (const [index, server] of cluster.servers.entries()) {
      const state = await readState(server);
      assert.ok(state.unlocked_milestones.includes('concurrent_10'), `node ${index} /metrics/state unlocked_milestones`);
      const logLines = server.output.split('\n').filter((line) => line.includes('Milestone concurrent_10 unlocked'));
      assert.equal(logLines.length, 1, `node ${index} logged the concurrent_10 announcement ${logLines.length} times`);
    }

    cluster.assertFramesValid();
  });
});

test('node opens amid presence events', async (t) => {
  // A node whose commands reach Redis 200 ms late takes a few round trips
  // to open its store, and another node's presence events reach it first.
  // Such an event used to crash it, because the node had no sockets yet.
  const cluster = await Cluster.start(t);
  const slowLink = await startDelayingProxy(cluster.redis.port, 200);
  t.after(() => slowLink.close());
  await cluster.run(t, async () => {
    const [fast] = cluster.servers;

    // Witnesses come and go on the fast node, so it publishes presence
    // while the slow node opens.
    let churning = true;
    const churn = (async () => {
      while (churning) {
        const witness = await cluster.joinedWitness(fast);
        await sleep(100);
        await witness.leave();
      }
    })();
    const slow = await cluster.startNode({ redisUrl: slowLink.url });
    churning = false;
    await churn;

    await cluster.joinedWitness(fast);
    const observer = await cluster.joinedWitness(slow);
    await observer.waitForEvent('tick', (p) => p.concurrent_connections === 2, { timeoutMs: 8 * TICK_MS });
    assert.equal(slow.child.signalCode, null, 'the slow node is still running');
    cluster.assertFramesValid();
  });
});

test('nodes tick together', async (t) => {
  // The second node starts out of phase with the first. Ticks fall on
  // multiples of the interval on the system clock, which both share, so
  // each tick still reaches both nodes' witnesses in the same instant.
  const toleranceMs = 60;
  const cluster = await Cluster.start(t, { nodes: 1 });
  await sleep(0.3 * TICK_MS);
  await cluster.startNode();
  await cluster.run(t, async () => {
    const witnesses = await Promise.all(cluster.servers.map((server) => cluster.joinedWitness(server)));
    // A node's first tick may come up to one and a half intervals after its
    // start, so the comparison begins once both nodes have ticked.
    await Promise.all(witnesses.map((witness) => witness.waitForEvent('tick', () => true, { timeoutMs: 4 * TICK_MS })));
    const since = Date.now();
    const ticksOf = (witness) => witness.events.filter((e) => e.event === 'tick' && e.at >= since).map((e) => e.at);
    await eventually(() => {
      for (const witness of witnesses) assert.ok(ticksOf(witness).length >= 6, `6 ticks on port ${witness.server.port}`);
    }, { timeoutMs: 10 * TICK_MS });

    const [first, second] = witnesses.map(ticksOf);
    for (const at of first.slice(0, 6)) {
      const nearest = Math.min(...second.map((other) => Math.abs(other - at)));
      assert.ok(nearest <= toleranceMs,
        `a tick reached port ${witnesses[0].server.port} at ${at}, and the nearest on port ${witnesses[1].server.port} ${nearest} ms away`);
    }
    for (const at of [...first, ...second]) {
      const phase = at % TICK_MS;
      assert.ok(Math.min(phase, TICK_MS - phase) <= toleranceMs, `a tick arrived ${phase} ms past a multiple of ${TICK_MS} ms`);
    }
  });
});

// Compares the total seconds in Redis and in the node's /metrics/state with
// the time the witnesses were joined. A tick may be in flight and the total is
// stored in whole seconds, so the allowed difference is one tick per witness
// plus 1 s.
async function assertTotalsMatchWitnessedTime(t, cluster, server, witnesses) {
  const witnessed = witnesses.reduce((sum, w) => sum + (w.leftAt - w.joinedAt) / 1000, 0);
  const tolerance = (witnesses.length * TICK_MS) / 1000 + 1;

  // After the leave the node flushes its last seconds at the next tick.
  const { stored, reported } = await eventually(async () => {
    const stored = await cluster.redis.getInteger(TOTAL_KEY);
    const reported = (await readState(server)).total_connection_seconds;
    assert.equal(reported, stored, `/metrics/state total against ${TOTAL_KEY}`);
    return { stored, reported };
  }, { timeoutMs: 4 * TICK_MS });

  t.diagnostic(
    `witnessed ${witnessed.toFixed(2)} s; ${TOTAL_KEY} ${stored} s; /metrics/state ${reported} s; allowed ± ${tolerance} s`,
  );
  assert.ok(Math.abs(stored - witnessed) <= tolerance, `${TOTAL_KEY} ${stored} s, witnessed ${witnessed.toFixed(2)} s`);
  assert.ok(Math.abs(reported - witnessed) <= tolerance, `/metrics/state total ${reported} s, witnessed ${witnessed.toFixed(2)} s`);
}

// Asserts that each witness's ticks show a total that never falls.
function assertTotalsNonDecreasing(witnesses) {
  for (const [index, witness] of witnesses.entries()) {
    const totals = witness.payloads('tick').map((p) => p.total_connection_seconds);
    for (let i = 1; i < totals.length; i++) {
      assert.ok(totals[i] >= totals[i - 1], `witness ${index}: tick total fell from ${totals[i - 1]} to ${totals[i]}`);
    }
  }
}

// Polls /health/ready every 100 ms until stop() and keeps each status and reason.
function sampleReadiness(server) {
  return sampleEvery(100, async () => {
    const { status, body } = await readiness(server);
    return { status, reason: body.reason };
  });
}

test('Redis outage keeps witnesses and time', { timeout: OUTAGE_MS + 30_000 }, async (t) => {
  const cluster = await Cluster.start(t);
  await cluster.run(t, async () => {
    const [server] = cluster.servers;
    const witnesses = [await cluster.joinedWitness(server), await cluster.joinedWitness(server)];
    await witnesses[0].waitForEvent('tick', (p) => p.concurrent_connections === 2);
    await sleep(2 * TICK_MS);
    const totalBefore = await cluster.redis.getInteger(TOTAL_KEY);

    // Redis goes away for the outage.
    const readinessSamples = sampleReadiness(server);
    const stoppedAt = Date.now();
    const exit = await cluster.redis.stop('SIGTERM');
    assert.equal(exit.code, 0, `redis-server exit after SIGTERM: ${JSON.stringify(exit)}`);

    const notReady = await eventually(async () => {
      const { status, body } = await readiness(server);
      assert.equal(status, 503, '/health/ready while Redis is down');
      return body;
    }, { timeoutMs: 3000 });
    t.diagnostic(`/health/ready during the outage: ${JSON.stringify(notReady)}`);
    assert.equal(notReady.status, 'not_ready');
    assert.match(notReady.reason, /redis/i, 'the not-ready reason names Redis');

    const duringOutage = await readState(server);
    assert.equal(duringOutage.concurrent_connections, 2, '/metrics/state concurrent during the outage');
    assert.equal(duringOutage.store.ready, false, '/metrics/state store.ready during the outage');

    await sleep(Math.max(0, stoppedAt + OUTAGE_MS - Date.now()));
    const restartedAt = Date.now();
    await cluster.redis.start();

    await eventually(async () => {
      assert.equal((await readiness(server)).status, 200, '/health/ready after Redis returned');
    }, { timeoutMs: 8000, intervalMs: 100 });
    const readyAgainAt = Date.now();
    const samples = await readinessSamples.stop();
    t.diagnostic(`Redis down ${restartedAt - stoppedAt} ms; ready again ${readyAgainAt - restartedAt} ms after the restart`);

    // Readiness went 503 during the outage and 200 after, never anything else.
    const statuses = samples.map((s) => s.value?.status ?? s.error);
    assert.ok(samples.some((s) => s.value?.status === 503 && s.at < restartedAt), `readiness samples: ${statuses}`);
    assert.deepEqual(statuses.filter((s) => s !== 200 && s !== 503), [], 'only 200 and 503 from /health/ready');
    assert.equal(samples.filter((s) => s.at > stoppedAt + 3000 && s.at < restartedAt && s.value?.status === 200).length, 0,
      '/health/ready answered 200 while Redis was down');

    // Both sockets stayed open and got ticks during the outage and after it.
    const afterReady = Date.now();
    for (const [index, witness] of witnesses.entries()) {
      await witness.waitForEvent('tick', () => true, { after: afterReady });
      assert.deepEqual(witness.closeEvents, [], `witness ${index} socket closes`);
      const outageTicks = witness.events.filter((e) => e.event === 'tick' && e.at > stoppedAt && e.at < restartedAt);
      assert.ok(outageTicks.length >= OUTAGE_MS / TICK_MS / 2,
        `witness ${index} got ${outageTicks.length} ticks in ${restartedAt - stoppedAt} ms of outage`);
      assert.deepEqual(outageTicks.map((e) => e.payload.concurrent_connections).filter((n) => n !== 2), [],
        `witness ${index} counts during the outage`);
    }
    await eventually(async () => assert.equal(await cluster.redis.getInteger(CONCURRENT_KEY), 2, `${CONCURRENT_KEY} after the outage`));

    // The seconds owed during the outage reached Redis, once.
    for (const witness of witnesses) await witness.leave();
    const totalAfter = await cluster.redis.getInteger(TOTAL_KEY);
    assert.ok(totalAfter >= totalBefore, `${TOTAL_KEY} ${totalAfter} after the outage, ${totalBefore} before`);
    await assertTotalsMatchWitnessedTime(t, cluster, server, witnesses);
    assertTotalsNonDecreasing(witnesses);
    await eventually(async () => assert.equal(await cluster.redis.getInteger(CONCURRENT_KEY), 0, `${CONCURRENT_KEY} after both left`));

    cluster.assertFramesValid();
  });
});

test('Redis hang makes node not ready', async (t) => {
  const pauseMs = 4000;
  const cluster = await Cluster.start(t);
  await cluster.run(t, async () => {
    const [server] = cluster.servers;
    const witnesses = [await cluster.joinedWitness(server), await cluster.joinedWitness(server)];
    await witnesses[0].waitForEvent('tick', (p) => p.concurrent_connections === 2);
    await sleep(2 * TICK_MS);

    // Redis keeps its sockets open but replies to nothing.
    const readinessSamples = sampleReadiness(server);
    const pausedAt = Date.now();
    cluster.redis.pause();
    await sleep(pauseMs);
    const resumedAt = Date.now();
    cluster.redis.resume();

    await eventually(async () => {
      assert.equal((await readiness(server)).status, 200, '/health/ready after Redis resumed');
    }, { timeoutMs: 8000, intervalMs: 100 });
    const samples = await readinessSamples.stop();

    // The watchdog gives up on a silent Redis after max(2 s, one tick).
    const firstNotReady = samples.find((s) => s.value?.status === 503 && s.at >= pausedAt);
    assert.ok(firstNotReady, `readiness samples: ${samples.map((s) => s.value?.status ?? s.error)}`);
    assert.ok(firstNotReady.at < resumedAt, 'readiness went 503 while Redis was paused');
    assert.match(firstNotReady.value.reason ?? '', /redis/i, 'the not-ready reason names Redis');
    t.diagnostic(
      `503 after ${firstNotReady.at - pausedAt} ms of the pause (${JSON.stringify(firstNotReady.value)}); ` +
        `200 again ${samples.at(-1).at - resumedAt} ms after the resume`,
    );

    for (const [index, witness] of witnesses.entries()) {
      assert.deepEqual(witness.closeEvents, [], `witness ${index} socket closes`);
      await witness.waitForEvent('tick', (p) => p.concurrent_connections === 2, { after: Date.now() });
    }

    // A script run that was in flight when Redis froze may be applied when it
    // resumes, and the node also resends it on its new connection, so the
    // totals show whether it counted once.
    for (const witness of witnesses) await witness.leave();
    await assertTotalsMatchWitnessedTime(t, cluster, server, witnesses);
    assertTotalsNonDecreasing(witnesses);

    cluster.assertFramesValid();
  });
});

test('node restart keeps total and milestones', async (t) => {
  const cluster = await Cluster.start(t);
  await cluster.run(t, async () => {
    const [first] = cluster.servers;
    const earlyWitness = await cluster.joinedWitness(first);
    await earlyWitness.waitForEvent('evolution', (p) => p.id === 'concurrent_1');
    await sleep(4 * TICK_MS);

    const totalSampler = sampleEvery(100, () => cluster.redis.getInteger(TOTAL_KEY));
    const unlockedBefore = await cluster.redis.members(UNLOCKED_KEY);
    const totalBefore = await cluster.redis.getInteger(TOTAL_KEY);
    assert.ok(totalBefore >= 1, `${TOTAL_KEY} before the stop: ${totalBefore}`);

    const exit = await first.stop('SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null }, 'SIGTERM must stop the node cleanly');
    earlyWitness.leftAt = Date.now();
    const totalAtStop = await cluster.redis.getInteger(TOTAL_KEY);
    assert.ok(totalAtStop >= totalBefore, `${TOTAL_KEY} ${totalAtStop} after the stop, ${totalBefore} before`);
    assert.equal(await cluster.redis.getInteger(CONCURRENT_KEY), 0, `${CONCURRENT_KEY} after the only node stopped`);

    // The stopped node stored the seconds of its witness.
    const firstWitnessed = (earlyWitness.leftAt - earlyWitness.joinedAt) / 1000;
    const tolerance = TICK_MS / 1000 + 1;
    t.diagnostic(`first node: witnessed ${firstWitnessed.toFixed(2)} s, ${TOTAL_KEY} ${totalAtStop} s at the stop`);
    assert.ok(Math.abs(totalAtStop - firstWitnessed) <= tolerance,
      `${TOTAL_KEY} ${totalAtStop} s at the stop, witnessed ${firstWitnessed.toFixed(2)} s`);

    // A new node on the same Redis resumes the Collective.
    const second = await cluster.startNode();
    const resumed = await readState(second);
    assert.ok(resumed.total_connection_seconds >= totalAtStop,
      `/metrics/state total ${resumed.total_connection_seconds} on the new node, ${totalAtStop} in Redis at the stop`);
    assert.equal(resumed.peak_connections, 1, 'peak on the new node');
    assert.deepEqual([...resumed.unlocked_milestones].sort(), unlockedBefore, 'unlocked milestones on the new node');

    const lateWitness = await cluster.joinedWitness(second);
    const welcome = lateWitness.payloads('welcome')[0];
    assert.ok(welcome.total_connection_seconds >= totalAtStop, `welcome total ${welcome.total_connection_seconds}`);
    assert.deepEqual([...welcome.unlocked_milestones].sort(), unlockedBefore, 'welcome unlocked_milestones');
    await sleep(4 * TICK_MS);

    const samples = await totalSampler.stop();
    const totals = samples.filter((s) => s.value !== undefined).map((s) => s.value);
    for (let i = 1; i < totals.length; i++) {
      assert.ok(totals[i] >= totals[i - 1], `${TOTAL_KEY} fell from ${totals[i - 1]} to ${totals[i]}: ${totals}`);
    }
    assert.deepEqual(samples.filter((s) => s.error), [], 'every GET of the total succeeded');
    const totalAtEnd = await cluster.redis.getInteger(TOTAL_KEY);
    assert.ok(totalAtEnd > totalAtStop, `${TOTAL_KEY} ${totalAtEnd} with a witness on the new node, ${totalAtStop} at the stop`);

    assert.deepEqual(await cluster.redis.members(UNLOCKED_KEY), unlockedBefore, `SMEMBERS ${UNLOCKED_KEY} after the restart`);
    assert.deepEqual(lateWitness.payloads('evolution'), [], 'the new node announces no milestone again');
    assert.equal(await cluster.redis.getInteger(CONCURRENT_KEY), 1, `${CONCURRENT_KEY} with one witness on the new node`);

    cluster.assertFramesValid();
  });
});
