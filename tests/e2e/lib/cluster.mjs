// Starts and drives a real Redis Cluster on loopback for the end-to-end tests
// of the server's Redis Cluster mode (REDIS_CLUSTER=1).
//
// Each node is a RedisProcess (see redis.mjs) with cluster mode on, in its own
// temporary directory, with the append-only file synced on every write. The
// cluster is formed by `redis-cli --cluster create`. Tests can then kill a
// master to force a replica failover, move one slot by hand with a window in
// which clients get ASK and TRYAGAIN replies, or reshard many slots with
// `redis-cli --cluster reshard`. Written against Debian 12's Redis 7.0.15.

import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';

import { RedisProcess, redisCliBinary } from './redis.mjs';
import { sleep } from './server.mjs';

const slotCount = 16384;

// A cluster node also listens on its client port + 10000 for the cluster bus,
// so both ports must be free and the bus port must stay below 65536.
const clusterBusOffset = 10000;
const minPort = 20000;
const maxPort = 40000;

// redis-cli gives up after this long, so a node that does not reply cannot block a test.
const cliTimeoutMs = 3000;
// MIGRATE below waits up to 5000 ms for the target node.
const migrateTimeoutMs = 10000;
// `redis-cli --cluster create` and `reshard` wait for the nodes to agree.
const clusterCommandTimeoutMs = 120000;

// Keys moved per MIGRATE, as `redis-cli --cluster reshard` does in batches.
const migrateBatchSize = 100;

// Error messages include at most this much of the node logs.
const maxOutputInErrors = 20000;

// Resolves with whether `port` on 127.0.0.1 can be bound right now.
function canListen(port) {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.unref();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

// Picks a random port in [minPort, maxPort) whose cluster bus port is free too
// and that collides with no port in `usedPorts`.
async function pickNodePort(usedPorts) {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const port = minPort + Math.floor(Math.random() * (maxPort - minPort));
    if (usedPorts.has(port) || usedPorts.has(port + clusterBusOffset)) continue;
    if ((await canListen(port)) && (await canListen(port + clusterBusOffset))) return port;
  }
  throw new Error(`no free port pair (port and port + ${clusterBusOffset}) found in ${minPort}-${maxPort} after 200 attempts`);
}

// Runs redis-cli with `args` and resolves with its trimmed standard output.
// Redis error replies (ERR, MOVED, ASK, TRYAGAIN, CLUSTERDOWN) are part of that
// output, because redis-cli 7.0 prints them to stdout and exits with 0. It
// rejects when redis-cli cannot connect, exits with an error or times out.
function runCli(args, { timeoutMs = cliTimeoutMs } = {}) {
  return new Promise((resolve, reject) => {
    execFile(redisCliBinary, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) {
        reject(new Error(`redis-cli ${args.join(' ')} failed: ${error.message}\n${stdout}${stderr}`.trim()));
      } else {
        resolve(stdout.trim());
      }
    });
  });
}

// Removes the ANSI color codes that `redis-cli --cluster` writes even when its
// output is not a terminal, so the collected log reads as plain text.
const stripColors = (text) => text.replace(/\x1b\[[0-9;]*m/g, '');

// Parses `key:value` lines as CLUSTER INFO and INFO return them.
function parseInfo(text) {
  const fields = {};
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1).trim();
  }
  return fields;
}

// Parses CLUSTER NODES output into one entry per node. The format is
// `<id> <ip:port@cport[,hostname]> <flags> <master-id> <ping-sent> <pong-recv>
// <config-epoch> <link-state> <slot>...`, where a slot is `N`, `N-M`, or, on
// the `myself` line only, `[N->-<id>]` (migrating) or `[N-<-<id>]` (importing).
function parseClusterNodes(text) {
  return text.split(/\r?\n/).filter((line) => line.trim() !== '').map((line) => {
    const [id, address, flags, masterId, , , configEpoch, linkState, ...slotFields] = line.trim().split(/\s+/);
    const ranges = [];
    const openSlots = [];
    for (const field of slotFields) {
      if (field.startsWith('[')) {
        openSlots.push(field);
      } else {
        const [start, end = start] = field.split('-').map(Number);
        ranges.push([start, end]);
      }
    }
    return {
      id,
      port: Number(address.split('@')[0].split(':').pop()),
      flags: new Set(flags.split(',')),
      masterId: masterId === '-' ? null : masterId,
      configEpoch: Number(configEpoch),
      linkState,
      ranges,
      openSlots,
    };
  });
}

const ownsSlot = (entry, slot) => entry.ranges.some(([start, end]) => slot >= start && slot <= end);

const isFailing = (entry) => ['fail', 'fail?', 'handshake', 'noaddr'].some((flag) => entry.flags.has(flag));

// Stops every node of clusters that a test left running when Node exits, so an
// uncaught error does not leave redis-server processes behind.
const runningClusters = new Set();
process.on('exit', () => {
  for (const cluster of runningClusters) {
    for (const node of cluster.nodes) {
      if (node.running) node.child.kill('SIGKILL');
      rmSync(node.dir, { recursive: true, force: true });
    }
  }
});

export class RedisCluster {
  constructor({ masters = 3, replicasPerMaster = 1, nodeTimeoutMs = 1000 } = {}) {
    // `redis-cli --cluster create` rejects fewer than three masters.
    if (!Number.isInteger(masters) || masters < 3) throw new Error(`masters must be an integer of at least 3, got ${masters}`);
    if (!Number.isInteger(replicasPerMaster) || replicasPerMaster < 0) {
      throw new Error(`replicasPerMaster must be a non-negative integer, got ${replicasPerMaster}`);
    }
    if (!Number.isInteger(nodeTimeoutMs) || nodeTimeoutMs <= 0) throw new Error(`nodeTimeoutMs must be a positive integer, got ${nodeTimeoutMs}`);

    this.masters = masters;
    this.replicasPerMaster = replicasPerMaster;
    this.nodeTimeoutMs = nodeTimeoutMs;
    // RedisProcess objects in start order.
    this.nodes = [];
    // Node ids by client port, read with CLUSTER MYID after each node starts.
    this.ids = new Map();
    // Ports of the masters right after `redis-cli --cluster create`, in start order.
    this.masterPorts = [];
    // Ports of the nodes stopped by kill().
    this.killed = new Set();
    // Output of the redis-cli --cluster commands.
    this.log = '';
  }

  get seeds() { return this.masterPorts.map((port) => `redis://127.0.0.1:${port}`); }

  get redisUrl() { return this.seeds.join(','); }

  // Logs of every node and of the redis-cli --cluster commands, for diagnosis.
  get output() {
    const nodeLogs = this.nodes.map((node) => `--- node 127.0.0.1:${node.port} ---\n${node.output}`);
    return [`--- redis-cli --cluster ---\n${this.log}`, ...nodeLogs].join('\n');
  }

  // Client ports of the nodes whose process is still running, in start order.
  get livePorts() { return this.nodes.filter((node) => node.running).map((node) => node.port); }

  // Starts masters * (1 + replicasPerMaster) nodes, forms the cluster and
  // resolves once every node reports cluster_state:ok, all 16384 slots are
  // assigned and every master has its replicas in sync. Stops the nodes and
  // rejects with their logs when any step fails.
  async start() {
    if (this.nodes.length > 0) throw new Error('RedisCluster.start() was called twice; create a new RedisCluster instead');
    runningClusters.add(this);
    try {
      await this.startNodes();
      await this.createCluster();
      await this.waitUntilHealthy({ requireReplicas: true, timeoutMs: 30000, what: 'the new cluster to be ready' });

      const view = parseClusterNodes(await this.cli(this.nodes[0].port, 'CLUSTER', 'NODES'));
      const masterIds = new Set(view.filter((entry) => entry.flags.has('master')).map((entry) => entry.id));
      this.masterPorts = this.nodes.map((node) => node.port).filter((port) => masterIds.has(this.ids.get(port)));
      return this;
    } catch (error) {
      const output = this.outputForErrors();
      await this.stop();
      throw new Error(`Redis Cluster failed to start: ${error.message}\n${output}`);
    }
  }

  async startNodes() {
    const clusterArgs = [
      '--cluster-enabled', 'yes',
      '--cluster-config-file', 'nodes.conf',
      '--cluster-node-timeout', String(this.nodeTimeoutMs),
      // Redis 7.0 waits 5 s by default before a diskless full sync, in case
      // more replicas connect. Without the wait replicas are in sync, and
      // start() returns, about 5 s sooner.
      '--repl-diskless-sync-delay', '0',
    ];
    const usedPorts = new Set();
    const total = this.masters * (1 + this.replicasPerMaster);
    for (let index = 0; index < total; index += 1) {
      // Another process can bind a probed port before redis-server does, so a
      // node that fails to bind is retried on a new port.
      for (let attempt = 1; ; attempt += 1) {
        const port = await pickNodePort(usedPorts);
        usedPorts.add(port);
        usedPorts.add(port + clusterBusOffset);
        const node = new RedisProcess({ port, extraArgs: clusterArgs });
        try {
          await node.start();
          this.nodes.push(node);
          break;
        } catch (error) {
          await node.dispose();
          if (attempt >= 3 || !node.output.includes('Address already in use')) throw error;
        }
      }
    }
    for (const node of this.nodes) this.ids.set(node.port, await this.cli(node.port, 'CLUSTER', 'MYID'));
  }

  async createCluster() {
    const addresses = this.nodes.map((node) => `127.0.0.1:${node.port}`);
    const text = stripColors(await runCli(
      ['--cluster', 'create', ...addresses, '--cluster-replicas', String(this.replicasPerMaster), '--cluster-yes'],
      { timeoutMs: clusterCommandTimeoutMs },
    ));
    this.log += `$ redis-cli --cluster create ${addresses.join(' ')}\n${text}\n`;
    if (!text.includes(`All ${slotCount} slots covered`)) {
      throw new Error(`redis-cli --cluster create did not report all ${slotCount} slots covered:\n${text}`);
    }
  }

  // Runs redis-cli against the node on `port` without following redirects and
  // resolves with its trimmed output, which includes error replies such as
  // `MOVED 1234 127.0.0.1:20001` or `ASK 1234 127.0.0.1:20001`.
  cli(port, ...args) {
    return runCli(['-h', '127.0.0.1', '-p', String(port), ...args.map(String)]);
  }

  // Runs `redis-cli -c` against the first live node, so MOVED and ASK
  // redirects are followed, and resolves with its trimmed output.
  clusterCli(...args) {
    const [port] = this.livePorts;
    if (port === undefined) return Promise.reject(new Error('no Redis Cluster node is running'));
    return runCli(['-c', '-h', '127.0.0.1', '-p', String(port), ...args.map(String)]);
  }

  async slotOf(key) {
    const [port] = this.livePorts;
    const text = await this.cli(port, 'CLUSTER', 'KEYSLOT', key);
    const slot = Number(text);
    if (!Number.isInteger(slot)) throw new Error(`CLUSTER KEYSLOT ${key} returned ${JSON.stringify(text)}, not a slot number`);
    return slot;
  }

  // Resolves with the port of the live master that serves `slot`. Each live
  // master is asked which slots it owns itself, because other nodes learn of
  // a failover or a slot move only later through gossip. Rejects when no live
  // master owns the slot, for example before a failover has finished.
  async masterOf(slot) {
    const claims = [];
    for (const port of this.livePorts) {
      const self = await this.selfEntry(port);
      if (self.flags.has('master') && ownsSlot(self, slot)) claims.push({ port, configEpoch: self.configEpoch });
    }
    if (claims.length === 0) throw new Error(`no live master owns slot ${slot}; live nodes: ${this.livePorts.join(', ')}`);
    // Two nodes claim a slot only for a moment after a move or a failover, and
    // the cluster resolves that in favour of the higher config epoch.
    claims.sort((a, b) => b.configEpoch - a.configEpoch);
    return claims[0].port;
  }

  // Resolves with the port of a live replica of the master on `masterPort`,
  // the first in start order when there are several. Rejects when it has none.
  async replicaOf(masterPort) {
    const masterId = this.ids.get(masterPort);
    if (masterId === undefined) throw new Error(`no node of this cluster listens on port ${masterPort}`);
    for (const port of this.livePorts) {
      if (port === masterPort) continue;
      const self = await this.selfEntry(port);
      if (self.flags.has('slave') && self.masterId === masterId) return port;
    }
    throw new Error(`no live replica of the master on port ${masterPort} found`);
  }

  // Stops the node on `port` with `signal` and resolves with its exit status.
  async kill(port, signal = 'SIGKILL') {
    const node = this.nodes.find((candidate) => candidate.port === port);
    if (!node) throw new Error(`no node of this cluster listens on port ${port}`);
    const status = await node.stop(signal);
    this.killed.add(port);
    return status;
  }

  // Waits until a live node owns `slot`, every live node agrees on it and
  // reports cluster_state:ok, and resolves with that node's port. With
  // nodeTimeoutMs 1000 this took 2.4 to 2.9 s in runs on a 2-core machine.
  async waitForFailover(slot, { timeoutMs = 30000 } = {}) {
    const view = await this.waitUntilHealthy({
      requireReplicas: false,
      timeoutMs,
      what: `a live master to own slot ${slot} after a failover`,
      check: (agreedView) => {
        const owner = agreedView.find((entry) => entry.flags.has('master') && ownsSlot(entry, slot));
        if (!owner) return `no master owns slot ${slot}`;
        if (!this.livePorts.includes(owner.port)) return `slot ${slot} is still owned by the stopped node on port ${owner.port}`;
        return null;
      },
    });
    return view.find((entry) => entry.flags.has('master') && ownsSlot(entry, slot)).port;
  }

  // Moves `slot` to the master on `toPort` the way `redis-cli --cluster
  // reshard` does. Both masters mark the slot as importing and migrating, so
  // the source replies ASK for keys it no longer has and TRYAGAIN for
  // multi-key commands whose keys are split between the two nodes. The first
  // `keysBeforeHold` keys (all by default) are migrated, then the slot stays
  // open for `holdMs` ms so tests can send commands in that state, then the
  // remaining keys are migrated and every master gets CLUSTER SETSLOT NODE.
  // Resolves with the ports and the number of keys moved.
  async moveSlot(slot, toPort, { holdMs = 0, keysBeforeHold = Infinity } = {}) {
    if (!this.ids.has(toPort)) throw new Error(`no node of this cluster listens on port ${toPort}`);
    const fromPort = await this.masterOf(slot);
    if (fromPort === toPort) return { fromPort, toPort, keys: 0 };
    const target = await this.selfEntry(toPort);
    if (!target.flags.has('master')) throw new Error(`the node on port ${toPort} is not a master, so it cannot own slot ${slot}`);
    const fromId = this.ids.get(fromPort);
    const toId = this.ids.get(toPort);

    // The target imports first, so that it accepts the ASKING requests which
    // the source starts to redirect as soon as it is migrating.
    await this.expectOk(toPort, 'CLUSTER', 'SETSLOT', slot, 'IMPORTING', fromId);
    await this.expectOk(fromPort, 'CLUSTER', 'SETSLOT', slot, 'MIGRATING', toId);

    let keys = await this.migrateKeys(slot, fromPort, toPort, keysBeforeHold);
    if (holdMs > 0) await sleep(holdMs);
    keys += await this.migrateKeys(slot, fromPort, toPort, Infinity);

    // The target first, so that it owns the slot before the source starts
    // replying MOVED to it.
    await this.expectOk(toPort, 'CLUSTER', 'SETSLOT', slot, 'NODE', toId);
    await this.expectOk(fromPort, 'CLUSTER', 'SETSLOT', slot, 'NODE', toId);
    for (const port of this.livePorts) {
      if (port === toPort || port === fromPort) continue;
      if ((await this.selfEntry(port)).flags.has('master')) await this.expectOk(port, 'CLUSTER', 'SETSLOT', slot, 'NODE', toId);
    }

    await this.waitUntilHealthy({
      requireReplicas: false,
      timeoutMs: 10000,
      what: `every node to report slot ${slot} on port ${toPort}`,
      check: (view) => {
        const owner = view.find((entry) => entry.flags.has('master') && ownsSlot(entry, slot));
        return owner?.port === toPort ? null : `slot ${slot} is owned by port ${owner?.port}`;
      },
    });
    return { fromPort, toPort, keys };
  }

  // Migrates up to `maxKeys` keys of `slot` from one master to another and
  // resolves with how many were moved.
  // NOTE: keys are read from redis-cli's line output, so a key that contains a
  // newline is split and fails to migrate.
  async migrateKeys(slot, fromPort, toPort, maxKeys) {
    let moved = 0;
    while (moved < maxKeys) {
      const count = Math.min(migrateBatchSize, maxKeys - moved);
      const text = await this.cli(fromPort, 'CLUSTER', 'GETKEYSINSLOT', slot, count);
      if (text === '') break;
      const keys = text.split('\n');
      const args = ['MIGRATE', '127.0.0.1', toPort, '', 0, 5000, 'KEYS', ...keys];
      const reply = await runCli(['-h', '127.0.0.1', '-p', String(fromPort), ...args.map(String)], { timeoutMs: migrateTimeoutMs });
      // NOKEY means that the keys expired or were deleted since GETKEYSINSLOT.
      if (reply !== 'OK' && reply !== 'NOKEY') {
        throw new Error(`MIGRATE of ${keys.length} keys of slot ${slot} from port ${fromPort} to ${toPort} failed: ${reply}`);
      }
      moved += keys.length;
    }
    return moved;
  }

  // Moves `slots` slots from the master on `fromPort` to the master on
  // `toPort` with `redis-cli --cluster reshard`, and waits until every live
  // node agrees on the new owners.
  async reshard({ fromPort, toPort, slots }) {
    const fromId = this.ids.get(fromPort);
    const toId = this.ids.get(toPort);
    if (fromId === undefined || toId === undefined) {
      throw new Error(`reshard needs two ports of this cluster, got from ${fromPort} and to ${toPort}`);
    }
    if (!Number.isInteger(slots) || slots <= 0) throw new Error(`slots must be a positive integer, got ${slots}`);
    const [anyPort] = this.livePorts;
    const args = [
      '--cluster', 'reshard', `127.0.0.1:${anyPort}`,
      '--cluster-from', fromId, '--cluster-to', toId, '--cluster-slots', String(slots), '--cluster-yes',
    ];
    const text = stripColors(await runCli(args, { timeoutMs: clusterCommandTimeoutMs }));
    this.log += `$ redis-cli ${args.join(' ')}\n${text}\n`;
    if (text.includes('[ERR]')) throw new Error(`redis-cli --cluster reshard reported an error:\n${text}`);
    await this.waitUntilHealthy({ requireReplicas: false, timeoutMs: 30000, what: `every node to agree on the slots after resharding ${slots} slots` });
  }

  // Kills every node with SIGKILL and removes their directories. Calling it
  // again does nothing.
  async stop() {
    for (const node of this.nodes) {
      await node.stop('SIGKILL');
      rmSync(node.dir, { recursive: true, force: true });
    }
    runningClusters.delete(this);
  }

  // Rejects unless the node on `port` replies OK to the command.
  async expectOk(port, ...args) {
    const reply = await this.cli(port, ...args);
    if (reply !== 'OK') throw new Error(`${args.join(' ')} on port ${port} returned ${JSON.stringify(reply)}, expected OK`);
  }

  // Resolves with the `myself` entry of CLUSTER NODES on `port`, which contains
  // that node's own role, master id and slots.
  async selfEntry(port) {
    const self = parseClusterNodes(await this.cli(port, 'CLUSTER', 'NODES')).find((entry) => entry.flags.has('myself'));
    if (!self) throw new Error(`CLUSTER NODES on port ${port} has no myself line`);
    return self;
  }

  // Returns the end of the node logs for an error message.
  outputForErrors() {
    const output = this.output;
    return output.length > maxOutputInErrors ? `...${output.slice(-maxOutputInErrors)}` : output;
  }

  // Polls the live nodes until the cluster is healthy and `check(view)`
  // returns null, then resolves with the CLUSTER NODES view that all live
  // nodes share. Rejects after `timeoutMs` with the last problem found.
  async waitUntilHealthy({ requireReplicas, timeoutMs, what, check = () => null }) {
    const deadline = Date.now() + timeoutMs;
    let problem;
    for (;;) {
      try {
        const result = await this.findHealthProblem({ requireReplicas });
        problem = result.problem ?? check(result.view);
        if (!problem) return result.view;
      } catch (error) {
        // A node that is starting, stopping or loading may refuse a connection.
        problem = error.message;
      }
      if (Date.now() >= deadline) {
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${problem}\n${this.outputForErrors()}`);
      }
      await sleep(100);
    }
  }

  // Checks every live node once. Resolves with `{ problem }`, a sentence that
  // names the first problem found, or with `{ view }`, the CLUSTER NODES
  // entries all live nodes agree on, when there is none.
  async findHealthProblem({ requireReplicas }) {
    const livePorts = this.livePorts;
    if (livePorts.length === 0) return { problem: 'no node is running' };
    let agreedView = null;
    let agreedSlots = null;

    for (const port of livePorts) {
      const info = parseInfo(await this.cli(port, 'CLUSTER', 'INFO'));
      if (info.cluster_state !== 'ok') return { problem: `node ${port} reports cluster_state:${info.cluster_state}` };
      if (info.cluster_slots_ok !== String(slotCount)) {
        return { problem: `node ${port} reports cluster_slots_ok:${info.cluster_slots_ok}, expected ${slotCount}` };
      }

      const view = parseClusterNodes(await this.cli(port, 'CLUSTER', 'NODES'));
      if (view.length !== this.nodes.length) return { problem: `node ${port} knows ${view.length} of ${this.nodes.length} nodes` };
      for (const entry of view) {
        if (entry.openSlots.length > 0) return { problem: `node ${port} has open slots ${entry.openSlots.join(' ')}` };
        const alive = livePorts.includes(entry.port);
        if (alive && isFailing(entry)) return { problem: `node ${port} flags live node ${entry.port} as ${[...entry.flags].join(',')}` };
      }

      // Every node must report the same owner for every slot, and every slot
      // must have an owner.
      const owners = new Array(slotCount).fill(null);
      for (const entry of view) {
        if (!entry.flags.has('master')) continue;
        for (const [start, end] of entry.ranges) {
          for (let slot = start; slot <= end; slot += 1) owners[slot] = entry.port;
        }
      }
      const unowned = owners.indexOf(null);
      if (unowned !== -1) return { problem: `node ${port} reports slot ${unowned} without an owner` };
      const slots = owners.join(',');
      if (agreedSlots === null) {
        agreedSlots = slots;
        agreedView = view;
      } else if (slots !== agreedSlots) {
        return { problem: `node ${port} reports different slot owners than node ${livePorts[0]}` };
      }

      const self = view.find((entry) => entry.flags.has('myself'));
      if (self.flags.has('slave')) {
        const replication = parseInfo(await this.cli(port, 'INFO', 'replication'));
        if (replication.master_link_status !== 'up') {
          return { problem: `replica ${port} reports master_link_status:${replication.master_link_status}` };
        }
      }
    }

    if (requireReplicas) {
      for (const master of agreedView.filter((entry) => entry.flags.has('master') && !isFailing(entry))) {
        const replicas = agreedView.filter((entry) => entry.masterId === master.id && !isFailing(entry));
        if (replicas.length < this.replicasPerMaster) {
          return { problem: `master ${master.port} has ${replicas.length} of ${this.replicasPerMaster} replicas attached` };
        }
      }
    }
    return { view: agreedView };
  }
}
