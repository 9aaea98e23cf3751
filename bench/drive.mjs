#!/usr/bin/env node
// Drives one benchmark run against a server that is already running. It
// starts --procs collective-loadgen processes, each with a slice of the
// sockets and of the source addresses, and waits until every socket is
// welcomed or given up. Then it samples the server's memory and CPU from
// /proc, stops the load generators and merges their reports into one JSON
// result.
//
//   node bench/drive.mjs --loadgen=build/bench/bench/collective-loadgen \
//       --port=4710 --server-pid=1234 --label=collective --sockets=18000 --procs=4 \
//       --sources=127.0.0.2-127.0.0.19 --output=result.json
//
// Timeline: memory before the load; load starts; every socket welcomed;
// --settle seconds; memory and CPU sampled; --window seconds of idle
// witnesses, where every tick is recorded; CPU and memory sampled again;
// load stops. Tick delivery is measured on the ticks whose first receipt
// falls inside the window.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readOption } from './cli.mjs';

const usage = `Usage: node bench/drive.mjs --loadgen=PATH --port=PORT --server-pid=PID[,PID...] --output=FILE [options]

  --server-pid=LIST    the server's process, or several processes that share the
                       port; their memory and CPU are summed

  --label=TEXT         name of the server under test in the result (default server)
  --host=ADDRESS       server address in 127.0.0.0/8 (default 127.0.0.1)
  --sockets=N          witnesses in all (default 500)
  --procs=N            load generator processes; each takes a slice (default 2)
  --sources=LIST       source addresses in 127.0.0.0/8, such as 127.0.0.2-127.0.0.9;
                       the processes share them out (default 127.0.0.2-127.0.0.5)
  --max-pending=N      connections in progress per process (default 256)
  --join-timeout=S     seconds for every socket to be welcomed (default 60)
  --settle=S           seconds between the last welcome and the first sample (default 3)
  --window=S           seconds of idle witnesses measured (default 30)
  --tick-ms=MS         the server's tick interval (default 1000)
  --heartbeat=S        seconds between heartbeats of one socket (default 30)
  --poll-ms=MS         once joined, the load generators read every MS milliseconds
                       instead of sleeping until a frame arrives (default 0: sleep)
  --reference=N        also join N witnesses on the official phoenix client
                       (bench/reference) and compare what they saw with the load
                       generators' figures (default 0: none)
  --check              exit 1 unless every socket joined, none closed and every
                       witness received every tick in the window, and, with
                       --reference, the two clients agree
`;

// Every socket is a descriptor. collective-loadgen raises its soft open-file
// limit to the hard one, which it inherits from this process, and needs a
// few descriptors besides (stdio, epoll, signalfd).
function maxSocketsPerProcess() {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const match = /^Max open files\s+\S+\s+(\S+)/m.exec(limits);
  const hardLimit = match && match[1] !== 'unlimited' ? Number(match[1]) : 1048576;
  return hardLimit - 32;
}

function fail(message) {
  process.stderr.write(`drive.mjs: ${message}\n`);
  process.exit(2);
}

function parseArguments(argv) {
  const options = {
    label: 'server',
    host: '127.0.0.1',
    sockets: 500,
    procs: 2,
    sources: '127.0.0.2-127.0.0.5',
    maxPending: 256,
    joinTimeout: 60,
    settle: 3,
    window: 30,
    tickMs: 1000,
    heartbeat: 30,
    pollMs: 0,
    reference: 0,
    check: false,
  };
  const integers = {
    port: [1, 65535],
    sockets: [1, 1000000],
    procs: [1, 64],
    'max-pending': [1, 100000],
    'join-timeout': [1, 3600],
    settle: [0, 600],
    window: [1, 3600],
    'tick-ms': [100, 600000],
    heartbeat: [1, 3600],
    'poll-ms': [0, 100],
    reference: [0, 1000],
  };
  for (const argument of argv) {
    if (argument === '--help' || argument === '-h') {
      process.stdout.write(usage);
      process.exit(0);
    }
    if (argument === '--check') {
      options.check = true;
      continue;
    }
    const { name, key, value, number } = readOption(argument, integers, fail);
    if (number !== undefined) {
      options[key] = number;
    } else if (name === 'server-pid') {
      const pids = value.split(',').map(Number);
      if (pids.some((pid) => !Number.isInteger(pid) || pid < 1)) {
        fail(`invalid --server-pid '${value}': expected process ids separated by commas`);
      }
      options.serverPids = pids;
    } else if (['loadgen', 'output', 'label', 'host', 'sources'].includes(name)) {
      options[key] = value;
    } else {
      fail(`unknown option '--${name}'; see --help`);
    }
  }
  for (const required of ['loadgen', 'port', 'serverPids', 'output']) {
    if (options[required] === undefined) {
      fail(`missing --${required.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`).replace(/-pids$/, '-pid')}`);
    }
  }
  if (options.reference > 0 && options.serverPids.length > 1) {
    fail('--reference needs one server process, whose tick numbers both clients share');
  }
  return options;
}

// Expands "127.0.0.2-127.0.0.9,127.0.1.1" into single addresses.
function expandSources(list) {
  const toNumber = (text) => {
    const parts = text.split('.').map(Number);
    if (parts.length !== 4 || parts.some((part) => !Number.isInteger(part) || part < 0 || part > 255) || parts[0] !== 127) {
      fail(`invalid source address '${text}': expected an IPv4 address in 127.0.0.0/8`);
    }
    return ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3];
  };
  const toText = (number) => [number >>> 24, (number >>> 16) & 255, (number >>> 8) & 255, number & 255].join('.');
  const addresses = [];
  for (const item of list.split(',')) {
    const [first, last = first] = item.split('-');
    const from = toNumber(first);
    const to = toNumber(last);
    if (to < from) fail(`invalid source range '${item}': the last address is below the first`);
    for (let number = from; number <= to; number += 1) addresses.push(toText(number));
  }
  return addresses;
}

// Gives each process a share of the sockets and, when there are enough
// addresses, its own addresses; otherwise the processes take turns.
function planSlices(options) {
  const addresses = expandSources(options.sources);
  const maxSockets = maxSocketsPerProcess();
  const slices = [];
  for (let index = 0; index < options.procs; index += 1) {
    const sockets =
      Math.floor(options.sockets / options.procs) + (index < options.sockets % options.procs ? 1 : 0);
    let sources;
    if (addresses.length >= options.procs) {
      const from = Math.floor((index * addresses.length) / options.procs);
      const to = Math.floor(((index + 1) * addresses.length) / options.procs);
      sources = addresses.slice(from, to);
    } else {
      sources = [addresses[index % addresses.length]];
    }
    if (sockets > maxSockets) {
      fail(`${sockets} sockets in one process exceed the open-file limit's room for ${maxSockets}; raise --procs`);
    }
    if (sockets > 0) slices.push({ index, sockets, sources });
  }
  return slices;
}

// --- /proc sampling ------------------------------------------------------------

const clockTicksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

function sampleProcess(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /^VmRSS:\s+(\d+) kB/m.exec(status);
    const hwm = /^VmHWM:\s+(\d+) kB/m.exec(status);
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    // After "pid (comm) ", utime and stime are the 12th and 13th fields.
    const cpuTicks = Number(fields[11]) + Number(fields[12]);
    return { rssKb: rss ? Number(rss[1]) : null, hwmKb: hwm ? Number(hwm[1]) : null, cpuSeconds: cpuTicks / clockTicksPerSecond };
  } catch {
    return null;
  }
}

// Sums the samples of every server process; null when one of them is gone.
function sampleServers(pids) {
  const samples = pids.map(sampleProcess);
  if (samples.some((sample) => sample === null)) return null;
  const total = (field) => samples.reduce((sum, sample) => sum + (sample[field] ?? 0), 0);
  return { rssKb: total('rssKb'), hwmKb: total('hwmKb'), cpuSeconds: total('cpuSeconds') };
}

// Busy and total jiffies of the whole machine, from the first line of /proc/stat.
function sampleMachine() {
  const values = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = values.slice(0, 8).reduce((sum, value) => sum + value, 0);
  const idle = values[3] + values[4];
  return { busy: total - idle, total };
}

function monotonicMicros() {
  // process.hrtime reads CLOCK_MONOTONIC on Linux, the clock the load
  // generators stamp their receipts with.
  return Number(process.hrtime.bigint() / 1000n);
}

const sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

// How far apart the two clients' median receipts of one tick may be. At the
// small profile's scale a tick reaches everyone within about 10 ms, so a
// larger gap means one client stamps its receipts wrongly.
const referenceToleranceMs = 50;

// --- statistics ----------------------------------------------------------------

function percentile(sorted, fraction) {
  if (sorted.length === 0) return null;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1));
  return sorted[index];
}

// Tells whether a tick whose first receipt came at `firstUs` is measured:
// inside the idle window, and early enough that every receipt can arrive.
function isMeasured(firstUs, timeline, options) {
  const marginUs = Math.max(2000, 2 * options.tickMs) * 1000;
  return firstUs >= timeline.windowStartUs && firstUs <= timeline.windowEndUs - marginUs;
}

// Groups receipts by tick number, which suits one server process.
function groupByNumber(reports) {
  const byTick = new Map();
  for (const report of reports) {
    for (const [tick, receipts] of Object.entries(report.tick_receipts_us)) {
      if (!byTick.has(tick)) byTick.set(tick, []);
      byTick.get(tick).push(receipts);
    }
  }
  return byTick;
}

// Groups receipts by time, for several server processes: each numbers its
// own ticks, but all tick on the same wall-clock boundaries. A gap of over
// half an interval starts the next tick, so a tick must reach everyone
// within half an interval to be measured as one.
function groupByTime(reports, tickMs) {
  let total = 0;
  for (const report of reports) {
    for (const receipts of Object.values(report.tick_receipts_us)) total += receipts.length;
  }
  const times = new Float64Array(total);
  let index = 0;
  for (const report of reports) {
    for (const receipts of Object.values(report.tick_receipts_us)) {
      for (const time of receipts) times[index++] = time;
    }
  }
  times.sort();

  const groups = new Map();
  let start = 0;
  for (let at = 1; at <= times.length; at += 1) {
    if (at === times.length || times[at] - times[at - 1] > (tickMs * 1000) / 2) {
      groups.set(groups.size, [times.subarray(start, at)]);
      start = at;
    }
  }
  return groups;
}

function summarize(values, scale = 1) {
  const sorted = Float64Array.from(values).sort();
  const round = (value) => (value === null ? null : Math.round((value / scale) * 1000) / 1000);
  return {
    count: sorted.length,
    p50: round(percentile(sorted, 0.5)),
    p99: round(percentile(sorted, 0.99)),
    max: round(sorted.length ? sorted[sorted.length - 1] : null),
  };
}

function addCounts(target, counts) {
  for (const [key, value] of Object.entries(counts)) target[key] = (target[key] ?? 0) + value;
}

// --- the run -------------------------------------------------------------------

// How long a client process runs before it stops by itself, so a lost
// driver cannot leave load running.
function maxRunSeconds(options) {
  return options.joinTimeout + options.settle + options.window + 120;
}

// Starts one client process that prints a JSON line with event "settled"
// once its sockets are welcomed or given up, and writes its report on SIGTERM.
function startGenerator(name, command, args, reportPath) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const generator = { name, child, reportPath, settled: null, exited: null };
  generator.exitedPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      generator.exited = { code, signal };
      resolve();
    });
    child.on('error', (error) => fail(`cannot start ${command}: ${error.message}`));
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    try {
      const event = JSON.parse(line);
      if (event.event === 'settled') generator.settled = event;
    } catch {
      process.stderr.write(`drive.mjs: unexpected output from ${name}: ${line}\n`);
    }
  });
  return generator;
}

function startLoadGenerators(options, slices, outputDirectory) {
  return slices.map((slice) => {
    const name = `loadgen-${slice.index}`;
    const reportPath = path.join(outputDirectory, `${path.basename(options.output, '.json')}.${name}.json`);
    const args = [
      `--host=${options.host}`,
      `--port=${options.port}`,
      `--sockets=${slice.sockets}`,
      `--sources=${slice.sources.join(',')}`,
      `--max-pending=${options.maxPending}`,
      `--join-timeout=${options.joinTimeout}`,
      `--heartbeat=${options.heartbeat}`,
      `--poll-ms=${options.pollMs}`,
      `--max-run=${maxRunSeconds(options)}`,
      `--output=${reportPath}`,
      `--name=${name}`,
    ];
    return startGenerator(name, options.loadgen, args, reportPath);
  });
}

// The reference witnesses on the official phoenix client (bench/reference).
function startReference(options, outputDirectory) {
  const reportPath = path.join(outputDirectory, `${path.basename(options.output, '.json')}.reference.json`);
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'reference', 'witnesses.mjs');
  const args = [
    script,
    `--host=${options.host}`,
    `--port=${options.port}`,
    `--sockets=${options.reference}`,
    `--join-timeout=${options.joinTimeout}`,
    `--heartbeat=${options.heartbeat}`,
    `--max-run=${maxRunSeconds(options)}`,
    `--output=${reportPath}`,
    '--name=reference',
  ];
  return startGenerator('reference', process.execPath, args, reportPath);
}

async function waitUntilSettled(generators, timeoutSeconds) {
  const deadline = Date.now() + timeoutSeconds * 1000;
  while (Date.now() < deadline) {
    if (generators.every((generator) => generator.settled)) return true;
    const exited = generators.find((generator) => generator.exited && !generator.settled);
    if (exited) fail(`${exited.name} exited early (${JSON.stringify(exited.exited)})`);
    await sleep(0.1);
  }
  return false;
}

async function stopLoadGenerators(generators) {
  for (const generator of generators) {
    if (!generator.exited) generator.child.kill('SIGTERM');
  }
  const stopped = Promise.all(generators.map((generator) => generator.exitedPromise));
  let timer;
  const deadline = new Promise((resolve) => {
    timer = setTimeout(() => resolve(true), 30000);
  });
  const timedOut = await Promise.race([stopped.then(() => false), deadline]);
  clearTimeout(timer);
  if (timedOut) {
    for (const generator of generators) {
      if (!generator.exited) generator.child.kill('SIGKILL');
    }
    await stopped;
  }
}

// Seconds from the moment every load generator exited, which closes all
// their sockets at once, until the server's /metrics/state shows no open
// connection. Null when that takes over timeoutSeconds.
async function measureCloseProcessing(options, exitedUs, timeoutSeconds) {
  const deadlineUs = exitedUs + timeoutSeconds * 1e6;
  while (monotonicMicros() < deadlineUs) {
    try {
      const response = await fetch(`http://${options.host}:${options.port}/metrics/state`, { signal: AbortSignal.timeout(1000) });
      if (response.ok) {
        const state = await response.json();
        if (state.node?.connections === 0) return Math.round((monotonicMicros() - exitedUs) / 1000) / 1000;
      }
    } catch {
      // The server may not accept connections yet while it is at its limit.
    }
    await sleep(0.05);
  }
  return null;
}

async function fetchFanoutMetrics(options) {
  // collective-server reports its broadcast fan-out time in /metrics; the
  // ws peer has no such route and gets null.
  try {
    const response = await fetch(`http://${options.host}:${options.port}/metrics`, { signal: AbortSignal.timeout(5000) });
    if (!response.ok) return null;
    const text = await response.text();
    const value = (name) => {
      const match = new RegExp(`^${name} ([0-9.eE+-]+)$`, 'm').exec(text);
      return match ? Number(match[1]) : null;
    };
    const sum = value('collective_broadcast_fanout_seconds_sum');
    const count = value('collective_broadcast_fanout_seconds_count');
    return {
      fanouts: count,
      mean_ms: sum !== null && count ? Math.round((sum / count) * 1e6) / 1e3 : null,
      max_ms: value('collective_broadcast_fanout_max_seconds') === null ? null : Math.round(value('collective_broadcast_fanout_max_seconds') * 1e6) / 1e3,
    };
  } catch {
    return null;
  }
}

function mergeReports(reports, timeline, options) {
  const joined = reports.reduce((sum, report) => sum + report.joined, 0);
  const startedUs = Math.min(...reports.map((report) => report.started_us));
  const lastWelcomeUs = Math.max(...reports.map((report) => report.last_welcome_us));
  const joinSeconds = joined > 0 ? (lastWelcomeUs - startedUs) / 1e6 : null;

  const failures = {};
  const closesAfterJoin = {};
  const frames = {};
  for (const report of reports) {
    addCounts(failures, report.failures);
    addCounts(closesAfterJoin, report.closes_after_join);
    addCounts(frames, report.frames);
  }

  // Tick delivery: for each tick first received inside the window, every
  // receipt relative to the first receipt of that tick at any witness.
  const tickGrouping = options.serverPids.length > 1 ? 'time' : 'number';
  const byTick = tickGrouping === 'time' ? groupByTime(reports, options.tickMs) : groupByNumber(reports);
  const delays = [];
  const spreads = [];
  let missing = 0;
  let ticksMeasured = 0;
  for (const lists of byTick.values()) {
    let first = Infinity;
    let last = -Infinity;
    let count = 0;
    for (const receipts of lists) {
      for (const time of receipts) {
        if (time < first) first = time;
        if (time > last) last = time;
      }
      count += receipts.length;
    }
    if (!isMeasured(first, timeline, options)) continue;
    ticksMeasured += 1;
    spreads.push(last - first);
    missing += Math.max(0, joined - count);
    for (const receipts of lists) for (const time of receipts) delays.push(time - first);
  }

  const joinLatencies = reports.flatMap((report) => report.join_latency_us);
  return {
    join: {
      requested: options.sockets,
      joined,
      seconds: joinSeconds === null ? null : Math.round(joinSeconds * 1000) / 1000,
      joins_per_second: joinSeconds ? Math.round(joined / joinSeconds) : null,
      latency_ms: summarize(joinLatencies, 1000),
      failures,
    },
    ticks: {
      grouped_by: tickGrouping,
      measured: ticksMeasured,
      missing_receipts: missing,
      spread_ms: summarize(spreads, 1000),
      // In the order the ticks came, to find which ones were slow and why.
      spreads_in_order_ms: spreads.map((spread) => Math.round(spread) / 1000),
      delay_ms: summarize(delays, 1000),
    },
    closes_after_join: closesAfterJoin,
    open_at_stop: reports.reduce((sum, report) => sum + report.open_at_stop, 0),
    frames,
  };
}

function checkResult(result) {
  const problems = [];
  if (result.join.joined !== result.join.requested) {
    problems.push(`${result.join.joined} of ${result.join.requested} sockets joined: ${JSON.stringify(result.join.failures)}`);
  }
  if (Object.keys(result.closes_after_join).length > 0) {
    problems.push(`witnesses closed during the run: ${JSON.stringify(result.closes_after_join)}`);
  }
  if (result.ticks.measured === 0) problems.push('no tick was received inside the window');
  if (result.ticks.missing_receipts > 0) problems.push(`${result.ticks.missing_receipts} tick receipts missing`);
  if (result.reference) problems.push(...checkAgainstReference(result));
  return problems;
}

// How far apart the two clients saw each tick: for every tick both measured
// in the window, the median receipt of the phoenix witnesses minus that of
// the load generators, on the same monotonic clock.
function compareWithReference(reports, referenceReport, timeline, options) {
  const median = (values) => percentile([...values].sort((a, b) => a - b), 0.5);
  const gaps = [];
  for (const [tick, lists] of groupByNumber(reports)) {
    const generatorReceipts = lists.flat();
    if (!isMeasured(Math.min(...generatorReceipts), timeline, options)) continue;
    const receipts = referenceReport.tick_receipts_us[tick];
    if (!receipts || receipts.length === 0) continue;
    gaps.push(median(receipts) - median(generatorReceipts));
  }
  return {
    ticks_compared: gaps.length,
    median_gap_ms: summarize(gaps.map(Math.abs), 1000),
  };
}

// The load generators' figures hold if the phoenix witnesses, on the same
// server at the same time, joined and got the same ticks at about the same
// time, and the server counted every witness of both.
function checkAgainstReference(result) {
  const problems = [];
  const reference = result.reference;
  if (reference.join.joined !== reference.join.requested) {
    problems.push(`${reference.join.joined} of ${reference.join.requested} phoenix witnesses joined: ${JSON.stringify(reference.join.failures)}`);
  }
  if (Object.keys(reference.closes_after_join).length > 0) {
    problems.push(`phoenix witnesses closed during the run: ${JSON.stringify(reference.closes_after_join)}`);
  }
  if (reference.ticks.missing_receipts > 0) problems.push(`${reference.ticks.missing_receipts} tick receipts missing at the phoenix witnesses`);
  if (result.crosscheck.ticks_compared !== result.ticks.measured) {
    problems.push(`the phoenix witnesses got ${result.crosscheck.ticks_compared} of the ${result.ticks.measured} ticks the load generators measured`);
  }
  if (result.crosscheck.median_gap_ms.max > referenceToleranceMs) {
    problems.push(`the two clients' median receipts of one tick were ${result.crosscheck.median_gap_ms.max} ms apart, over ${referenceToleranceMs} ms`);
  }
  const counted = reference.last_tick?.concurrent_connections;
  const expected = result.join.joined + reference.join.joined;
  if (counted !== expected) {
    problems.push(`the last tick counted ${counted} witnesses, but the two clients joined ${expected}`);
  }
  return problems;
}

async function main() {
  const options = parseArguments(process.argv.slice(2));
  const slices = planSlices(options);
  const outputDirectory = path.dirname(path.resolve(options.output));

  if (!sampleServers(options.serverPids)) fail(`no process ${options.serverPids.join(', ')} to measure`);
  const before = sampleServers(options.serverPids);

  const loadGenerators = startLoadGenerators(options, slices, outputDirectory);
  const reference = options.reference > 0 ? startReference(options, outputDirectory) : null;
  const generators = reference ? [...loadGenerators, reference] : loadGenerators;
  const settled = await waitUntilSettled(generators, options.joinTimeout + 15);
  if (!settled) process.stderr.write('drive.mjs: not every load generator settled in time; measuring what joined\n');
  const settledUs = Math.max(...generators.map((generator) => generator.settled?.at_us ?? 0));

  await sleep(options.settle);
  const joinedSample = sampleServers(options.serverPids);
  const clientsAtStart = generators.map((generator) => sampleProcess(generator.child.pid));
  const machineAtStart = sampleMachine();
  const windowStartUs = monotonicMicros();

  await sleep(options.window);
  const windowEndUs = monotonicMicros();
  const endSample = sampleServers(options.serverPids);
  const clientsAtEnd = generators.map((generator) => sampleProcess(generator.child.pid));
  const machineAtEnd = sampleMachine();

  await stopLoadGenerators(generators);
  const closeProcessingSeconds = await measureCloseProcessing(options, monotonicMicros(), 60);
  // Fetched after the load is gone, because a server at its connection
  // limit does not accept the request.
  const fanout = await fetchFanoutMetrics(options);
  const readReport = (generator) => {
    try {
      const report = JSON.parse(readFileSync(generator.reportPath, 'utf8'));
      rmSync(generator.reportPath);
      return report;
    } catch (error) {
      return fail(`cannot read the report of ${generator.name}: ${error.message}`);
    }
  };
  const reports = loadGenerators.map(readReport);

  const timeline = { windowStartUs, windowEndUs };
  const merged = mergeReports(reports, timeline, options);
  const windowSeconds = (windowEndUs - windowStartUs) / 1e6;
  const serverCpuSeconds = endSample && joinedSample ? endSample.cpuSeconds - joinedSample.cpuSeconds : null;
  const serverCpuPercent = serverCpuSeconds === null ? null : (serverCpuSeconds / windowSeconds) * 100;
  const clientCpuSeconds = clientsAtEnd.reduce(
    (sum, sample, index) => sum + (sample && clientsAtStart[index] ? sample.cpuSeconds - clientsAtStart[index].cpuSeconds : 0),
    0,
  );
  const round = (value, digits = 3) => (value === null ? null : Math.round(value * 10 ** digits) / 10 ** digits);

  const result = {
    label: options.label,
    settings: {
      sockets: options.sockets,
      procs: options.procs,
      sources: expandSources(options.sources).length,
      max_pending_per_process: options.maxPending,
      tick_ms: options.tickMs,
      window_s: round(windowSeconds),
      settle_s: options.settle,
      poll_ms: options.pollMs,
    },
    ...merged,
    settled_after_s: round((settledUs - Math.min(...reports.map((report) => report.started_us))) / 1e6),
    server: {
      rss_before_kb: before.rssKb,
      rss_joined_kb: joinedSample?.rssKb ?? null,
      rss_end_kb: endSample?.rssKb ?? null,
      rss_peak_kb: endSample?.hwmKb ?? null,
      bytes_per_witness:
        joinedSample && merged.join.joined > 0
          ? Math.round(((joinedSample.rssKb - before.rssKb) * 1024) / merged.join.joined)
          : null,
      cpu_percent_idle_window: round(serverCpuPercent, 2),
      cpu_percent_per_1000_witnesses:
        serverCpuPercent !== null && merged.join.joined > 0 ? round(serverCpuPercent / (merged.join.joined / 1000), 3) : null,
      close_processing_s: closeProcessingSeconds,
      fanout,
    },
    clients: {
      cpu_percent_idle_window: round((clientCpuSeconds / windowSeconds) * 100, 2),
    },
    machine: {
      busy_percent_idle_window: round(
        ((machineAtEnd.busy - machineAtStart.busy) / Math.max(1, machineAtEnd.total - machineAtStart.total)) * 100,
        1,
      ),
    },
  };

  if (reference) {
    const referenceReport = readReport(reference);
    const referenceMerged = mergeReports([referenceReport], timeline, { ...options, sockets: options.reference });
    result.reference = {
      join: referenceMerged.join,
      ticks: referenceMerged.ticks,
      closes_after_join: referenceMerged.closes_after_join,
      last_tick: referenceReport.last_tick,
    };
    result.crosscheck = compareWithReference(reports, referenceReport, timeline, options);
  }

  writeFileSync(options.output, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(
    `${options.label}: ${result.join.joined}/${result.join.requested} joined at ${result.join.joins_per_second} joins/s; ` +
      (result.ticks.measured > 0
        ? `${result.ticks.measured} ticks, spread p50 ${result.ticks.spread_ms.p50} ms max ${result.ticks.spread_ms.max} ms, `
        : 'no tick measured, ') +
      `${result.ticks.missing_receipts} receipts missing; ${result.server.bytes_per_witness} B/witness; ` +
      `CPU ${result.server.cpu_percent_per_1000_witnesses}% of a core per 1000 idle witnesses\n`,
  );

  if (result.crosscheck) {
    process.stdout.write(
      `${options.label}: phoenix reference: ${result.reference.join.joined}/${result.reference.join.requested} joined; ` +
        `${result.crosscheck.ticks_compared} ticks compared, median receipts ${result.crosscheck.median_gap_ms.max} ms apart at most\n`,
    );
  }

  if (options.check) {
    const problems = checkResult(result);
    if (problems.length > 0) {
      for (const problem of problems) process.stderr.write(`drive.mjs: check failed: ${problem}\n`);
      process.exit(1);
    }
    const agreed = result.reference ? ', and the phoenix witnesses agree with the load generators' : '';
    process.stdout.write(`${options.label}: check passed: every socket joined, none closed, every tick arrived${agreed}\n`);
  }
}

main();
