// End-to-end tests of collective-server nodes on a real Redis Cluster: three
// masters with a replica each, started by the tests on loopback, and three
// server nodes with REDIS_CLUSTER=1. They check that the counts come out
// exactly as on one Redis, that slots moving during traffic lose and double
// nothing, that a killed master's replica takes over without a witness
// noticing, and that witnesses behind a load balancer spread over the nodes
// and come back by reconnecting when their node dies.
//
//   node --test --test-concurrency=1 cluster.test.mjs

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';

import { Balancer } from './lib/balancer.mjs';
import { RedisCluster } from './lib/cluster.mjs';
import { checkedTransport, FrameLog } from './lib/schema.mjs';
import { ServerProcess, serverBinary, sleep, waitFor } from './lib/server.mjs';
import { eventually, nodeLogs, readiness, readState, sampleEvery, withDiagnostics, Witness } from './lib/witness.mjs';

const TICK_MS = 500;

const CONCURRENT_KEY = 'global:concurrent_connections';
const TOTAL_KEY = 'global:total_connection_seconds';
const UNLOCKED_KEY = 'global:unlocked_milestones';
const PEAK_KEY = 'global:peak_connections';

// A Redis Cluster, the server nodes on it and their witnesses.
class Deployment {
  static async start(t, { nodes = 3 } = {}) {
    assert.ok(existsSync(serverBinary), `server binary not found at ${serverBinary}; build it or set COLLECTIVE_SERVER_BIN`);
    const deployment = new Deployment();
    t.after(() => deployment.dispose());
    await deployment.redis.start();
    for (let i = 0; i < nodes; ++i) await deployment.startNode();
    return deployment;
  }

  constructor() {
    this.redis = new RedisCluster({ masters: 3, replicasPerMaster: 1, nodeTimeoutMs: 1000 });
    this.servers = [];
    this.witnesses = [];
    this.balancer = null;
    this.log = new FrameLog();
    this.transport = checkedTransport(this.log);
  }

  // The router's redirections are logged at debug, so a test can tell that
  // MOVED and ASK were really followed.
  async startNode() {
    const server = new ServerProcess({
      env: {
        REDIS_URL: this.redis.redisUrl,
        REDIS_CLUSTER: '1',
        COLLECTIVE_TICK_INTERVAL_MS: String(TICK_MS),
        QT_LOGGING_RULES: 'collective.store.redis.cluster.debug=true',
      },
    });
    this.servers.push(server);
    await server.start();
    await waitFor(async () => (await readiness(server)).status === 200, {
      timeoutMs: 10000,
      what: `node on port ${server.port} to report ready`,
    });
    return server;
  }

  async joinedWitness(server, options) {
    const witness = new Witness(server, this.transport, options);
    this.witnesses.push(witness);
    await witness.connect();
    await witness.join();
    return witness;
  }

  async getInteger(key) {
    const value = await this.redis.clusterCli('GET', key);
    return value === '' ? 0 : Number(value);
  }

  run(t, body) {
    return withDiagnostics(t, () => this.describe(), body);
  }

  async describe() {
    const lines = nodeLogs(this.servers);
    lines.push('--- redis cluster log:', this.redis.output.trimEnd());
    for (const key of [CONCURRENT_KEY, PEAK_KEY, TOTAL_KEY]) {
      lines.push(`${key} = ${await this.redis.clusterCli('GET', key).catch((e) => e.message)}`);
    }
    lines.push(`${UNLOCKED_KEY} = ${await this.redis.clusterCli('SMEMBERS', UNLOCKED_KEY).catch((e) => e.message)}`);
    return lines.join('\n');
  }

  async dispose() {
    await Promise.all(this.witnesses.map((witness) => witness.close()));
    if (this.balancer) await this.balancer.stop();
    for (const server of this.servers) await server.dispose();
    await this.redis.stop();
  }
}

// The seconds witnessed so far by witnesses still joined, and in total by
// those that left.
function witnessedSeconds(witnesses, now = Date.now()) {
  return witnesses.reduce((sum, w) => sum + ((w.leftAt ?? now) - w.joinedAt) / 1000, 0);
}

// Leaves every witness, then waits until Redis has what every node owes,
// and compares it with the time witnessed. Each node stores whole seconds
// and may have a tick in flight, so the allowed difference is one tick per
// witness plus 1 s per node. A count taken twice would be off by far more.
async function assertTotalMatches(t, deployment, witnesses, label) {
  for (const witness of witnesses) await witness.leave();
  const witnessed = witnessedSeconds(witnesses);
  const tolerance = (witnesses.length * TICK_MS) / 1000 + deployment.servers.length;

  // Each node flushes what it owes at its next tick; the total is read once
  // it has stopped moving.
  let stored = await deployment.getInteger(TOTAL_KEY);
  await waitFor(async () => {
    await sleep(2 * TICK_MS);
    const again = await deployment.getInteger(TOTAL_KEY);
    const settled = again === stored;
    stored = again;
    return settled;
  }, { timeoutMs: 20 * TICK_MS, intervalMs: 0, what: `${TOTAL_KEY} to settle` });
  t.diagnostic(`${label}: witnessed ${witnessed.toFixed(2)} s; ${TOTAL_KEY} ${stored} s; allowed ± ${tolerance} s`);
  assert.ok(Math.abs(stored - witnessed) <= tolerance, `${TOTAL_KEY} ${stored} s, witnessed ${witnessed.toFixed(2)} s`);
}

function assertNoWitnessClosed(witnesses) {
  for (const [index, witness] of witnesses.entries()) {
    assert.deepEqual(witness.closeEvents, [], `witness ${index} must stay connected`);
  }
}

test('three nodes count as on one Redis', { timeout: 120_000 }, async (t) => {
  const deployment = await Deployment.start(t);
  await deployment.run(t, async () => {
    const [a, b, c] = deployment.servers;
    const witnesses = [];
    for (const server of [a, a, b, c, c, c]) witnesses.push(await deployment.joinedWitness(server));

    // Every witness is shown all six, and Redis contains the same.
    await eventually(() => {
      for (const witness of witnesses) assert.equal(witness.latestCount(), 6);
    }, { timeoutMs: 4 * TICK_MS });
    await eventually(async () => {
      assert.equal(await deployment.getInteger(CONCURRENT_KEY), 6);
      assert.equal(await deployment.getInteger(PEAK_KEY), 6);
    }, { timeoutMs: 4 * TICK_MS });
    for (const server of deployment.servers) {
      const state = await readState(server);
      assert.equal(state.concurrent_connections, 6, `/metrics/state of port ${server.port}`);
    }

    // concurrent_1 unlocked once, for everyone, whichever node claimed it.
    await eventually(async () => {
      const unlocked = (await deployment.redis.clusterCli('SMEMBERS', UNLOCKED_KEY)).split('\n');
      assert.ok(unlocked.includes('concurrent_1'), `${UNLOCKED_KEY}: ${unlocked}`);
    });
    const announcedBy = await deployment.redis.clusterCli('HGET', '{global:unlocked_milestones}:won_by', 'concurrent_1');
    assert.match(announcedBy, /^[0-9a-f]{32} \d+$/, 'the winner of concurrent_1 is recorded with its report');

    await sleep(4 * TICK_MS);
    await assertTotalMatches(t, deployment, witnesses, 'three nodes');
    await eventually(async () => assert.equal(await deployment.getInteger(CONCURRENT_KEY), 0), {
      timeoutMs: 4 * TICK_MS,
    });
    assert.equal(await deployment.getInteger(PEAK_KEY), 6, 'the peak stays at its highest');
    assertNoWitnessClosed(witnesses);
    assert.deepEqual(deployment.log.violations, [], 'every server frame must match the message schema');
  });
});

test('moving slots lose and double nothing', { timeout: 180_000 }, async (t) => {
  const deployment = await Deployment.start(t);
  await deployment.run(t, async () => {
    const witnesses = [];
    for (const server of deployment.servers) {
      witnesses.push(await deployment.joinedWitness(server), await deployment.joinedWitness(server));
    }
    await eventually(async () => assert.ok((await deployment.getInteger(TOTAL_KEY)) >= 1), { timeoutMs: 10 * TICK_MS });

    // Each slot that contains a store key moves to another master while the
    // nodes keep reporting. The hold keeps a slot half-moved for three
    // ticks: a key already moved gets an ASK reply, and a script whose keys
    // are split gets TRYAGAIN.
    const keys = [TOTAL_KEY, PEAK_KEY, CONCURRENT_KEY, UNLOCKED_KEY, '{collective}:nodes'];
    const totals = sampleEvery(100, () => deployment.getInteger(TOTAL_KEY));
    for (const key of keys) {
      const slot = await deployment.redis.slotOf(key);
      const from = await deployment.redis.masterOf(slot);
      const to = deployment.redis.masterPorts.find((port) => port !== from);
      const moved = await deployment.redis.moveSlot(slot, to, { holdMs: 3 * TICK_MS, keysBeforeHold: 1 });
      t.diagnostic(`slot ${slot} (${key}) moved from ${moved.fromPort} to ${moved.toPort} with ${moved.keys} keys`);
    }

    // And a bulk reshard with redis-cli between the other masters.
    const [first, second] = deployment.redis.masterPorts;
    await deployment.redis.reshard({ fromPort: first, toPort: second, slots: 500 });
    await sleep(4 * TICK_MS);
    const samples = await totals.stop();

    // The total never fell or stalled for good, and every node stayed ready.
    const values = samples.filter((s) => s.error === undefined).map((s) => s.value);
    for (let i = 1; i < values.length; ++i) {
      assert.ok(values[i] >= values[i - 1], `${TOTAL_KEY} fell from ${values[i - 1]} to ${values[i]}`);
    }
    for (const server of deployment.servers) {
      assert.equal((await readiness(server)).status, 200, `node on port ${server.port} must be ready after the moves`);
    }
    await eventually(async () => assert.equal(await deployment.getInteger(CONCURRENT_KEY), 6), {
      timeoutMs: 4 * TICK_MS,
    });

    // The router really followed both kinds of redirection.
    const logs = deployment.servers.map((server) => server.output).join('\n');
    assert.match(logs, /Hash slot \d+ moved to /, 'some node followed a MOVED redirection');
    assert.match(logs, /Asking 127\.0\.0\.1:\d+ once for hash slot \d+/, 'some node followed an ASK redirection');

    await assertTotalMatches(t, deployment, witnesses, 'slots moved');
    assertNoWitnessClosed(witnesses);
  });
});

test('killed master: replica resumes counting', { timeout: 180_000 }, async (t) => {
  const deployment = await Deployment.start(t);
  await deployment.run(t, async () => {
    const witnesses = [];
    for (const server of deployment.servers) witnesses.push(await deployment.joinedWitness(server));
    await eventually(async () => assert.ok((await deployment.getInteger(TOTAL_KEY)) >= 1), { timeoutMs: 10 * TICK_MS });

    // The master holding the total dies; its replica is promoted after the
    // cluster's node timeout (1 s here, 15 s by default).
    const slot = await deployment.redis.slotOf(TOTAL_KEY);
    const master = await deployment.redis.masterOf(slot);
    const before = await deployment.getInteger(TOTAL_KEY);
    const killedAt = Date.now();
    await deployment.redis.kill(master, 'SIGKILL');

    const newMaster = await deployment.redis.waitForFailover(slot, { timeoutMs: 30_000 });
    const promotedAfter = Date.now() - killedAt;
    await waitFor(async () => (await deployment.getInteger(TOTAL_KEY)) > before, {
      timeoutMs: 30_000,
      intervalMs: 50,
      what: `${TOTAL_KEY} to grow after the failover`,
    });
    const pausedFor = Date.now() - killedAt;
    t.diagnostic(`master ${master} killed; replica ${newMaster} promoted after ${promotedAfter} ms; ` +
      `${TOTAL_KEY} grew again ${pausedFor} ms after the kill`);

    await eventually(async () => {
      for (const server of deployment.servers) assert.equal((await readiness(server)).status, 200);
    }, { timeoutMs: 10 * TICK_MS });
    await sleep(2 * TICK_MS);
    await assertTotalMatches(t, deployment, witnesses, 'master killed');
    assertNoWitnessClosed(witnesses);
  });
});

test('balancer spreads and moves witnesses', { timeout: 120_000 }, async (t) => {
  const deployment = await Deployment.start(t);
  await deployment.run(t, async () => {
    deployment.balancer = new Balancer({ upstreamPorts: deployment.servers.map((server) => server.port) });
    await deployment.balancer.start();
    const entry = { socketUrl: `ws://127.0.0.1:${deployment.balancer.port}/socket` };

    const count = 9;
    const witnesses = [];
    for (let i = 0; i < count; ++i) {
      witnesses.push(await deployment.joinedWitness(entry, { reconnectAfterMs: 200 }));
    }

    // Every node has some of them.
    const spread = await eventually(async () => {
      const local = [];
      for (const server of deployment.servers) local.push((await readState(server)).node.witnesses);
      assert.equal(local.reduce((a, b) => a + b, 0), count, `witnesses per node: ${local}`);
      return local;
    }, { timeoutMs: 4 * TICK_MS });
    t.diagnostic(`witnesses per node: ${spread.join(', ')}`);
    for (const local of spread) assert.ok(local >= 1, `every node holds a witness: ${spread}`);

    // The busiest node dies; its witnesses reconnect through the balancer to
    // the others, and the count is right again within two ticks of that.
    const victimIndex = spread.indexOf(Math.max(...spread));
    const victim = deployment.servers[victimIndex];
    const killedAt = Date.now();
    await victim.stop('SIGKILL');
    const survivors = deployment.servers.filter((server) => server !== victim);

    await waitFor(async () => {
      let local = 0;
      for (const server of survivors) local += (await readState(server)).node.witnesses;
      return local === count;
    }, { timeoutMs: 15_000, intervalMs: 50, what: 'every witness to rejoin on a surviving node' });
    const rejoinedAt = Date.now();

    await eventually(() => {
      for (const witness of witnesses) assert.equal(witness.latestCount(), count);
    }, { timeoutMs: 2 * TICK_MS + 250 });
    await eventually(async () => assert.equal(await deployment.getInteger(CONCURRENT_KEY), count), {
      timeoutMs: 2 * TICK_MS + 250,
    });
    t.diagnostic(`node ${victim.port} killed; all ${count} witnesses rejoined after ${rejoinedAt - killedAt} ms; ` +
      `count right ${Date.now() - rejoinedAt} ms after that`);
    assert.deepEqual(deployment.log.violations, [], 'every server frame must match the message schema');
  });
});
