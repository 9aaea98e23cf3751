// Reference witnesses: up to 1000 sockets on the official phoenix client,
// run by bench/drive.mjs beside collective-loadgen against the same server.
// It takes the load generator's options and writes a report of the same
// shape, so drive.mjs can check the generator's figures (who joined, when
// each tick arrived) against a client the project did not write.
//
// Receipts are stamped with process.hrtime, which reads CLOCK_MONOTONIC on
// Linux: the clock collective-loadgen stamps its receipts with.
import { renameSync, writeFileSync } from 'node:fs';
import { Socket } from 'phoenix';
import WebSocket from 'ws';
import { readOption } from '../cli.mjs';

const LOBBY = 'collective:lobby';

const usage = `Usage: node bench/reference/witnesses.mjs --port=PORT --output=FILE [options]

Joins --sockets witnesses to collective:lobby with the official phoenix client
and records when each tick arrives. Runs until SIGTERM or --max-run seconds,
then writes a JSON report like collective-loadgen's to --output. Prints one
JSON line once every socket is welcomed or given up.

  --host=ADDRESS       server address in 127.0.0.0/8 (default 127.0.0.1)
  --port=PORT          server port (required)
  --sockets=N          witnesses (default 100, at most 1000)
  --join-timeout=S     seconds from the start to welcome every socket (default 60)
  --heartbeat=S        seconds between heartbeats of one socket (default 30)
  --max-run=S          seconds after which the process stops by itself (default 900)
  --output=FILE        where the JSON report goes (required)
  --name=TEXT          name of this process in the report (default reference)
`;

function fail(message) {
  process.stderr.write(`witnesses.mjs: ${message}\n`);
  process.exit(2);
}

function parseArguments(argv) {
  const options = { host: '127.0.0.1', sockets: 100, joinTimeout: 60, heartbeat: 30, maxRun: 900, name: 'reference' };
  const integers = {
    port: [1, 65535],
    sockets: [1, 1000],
    'join-timeout': [1, 3600],
    heartbeat: [1, 3600],
    'max-run': [1, 86400],
  };
  for (const argument of argv) {
    if (argument === '--help' || argument === '-h') {
      process.stdout.write(usage);
      process.exit(0);
    }
    const { name, key, value, number } = readOption(argument, integers, fail);
    if (number !== undefined) {
      options[key] = number;
    } else if (name === 'host') {
      if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(value)) fail(`invalid --host '${value}': expected an address in 127.0.0.0/8`);
      options.host = value;
    } else if (['output', 'name'].includes(name)) {
      options[key] = value;
    } else {
      fail(`unknown option '--${name}'; see --help`);
    }
  }
  if (options.port === undefined) fail('missing --port');
  if (options.output === undefined) fail('missing --output');
  return options;
}

const monotonicMicros = () => Number(process.hrtime.bigint() / 1000n);

function bump(counts, key) {
  counts[key] = (counts[key] ?? 0) + 1;
}

function main() {
  const options = parseArguments(process.argv.slice(2));
  const startedUs = monotonicMicros();
  const report = {
    name: options.name,
    sockets: options.sockets,
    sources: 0,
    started_us: startedUs,
    settled_us: 0,
    stopped_us: 0,
    first_welcome_us: 0,
    last_welcome_us: 0,
    joined: 0,
    open_at_stop: 0,
    failures: {},
    closes_after_join: {},
    frames: { heartbeat_replies: 0, ticks: 0, presence: 0, evolution: 0 },
    join_latency_us: [],
    tick_receipts_us: {},
    // The last tick's payload, so its witness count can be checked against
    // the witnesses both clients joined.
    last_tick: null,
  };

  // Every socket starts at once. Their join figures are reported but not
  // compared, because they time the phoenix client as much as the server.
  const witnesses = [];
  let finished = 0;
  const finish = (witness) => {
    if (witness.finished) return;
    witness.finished = true;
    finished += 1;
    if (finished === witnesses.length) settle();
  };
  const settle = () => {
    if (report.settled_us) return;
    report.settled_us = monotonicMicros();
    process.stdout.write(`${JSON.stringify({ event: 'settled', at_us: report.settled_us, joined: report.joined })}\n`);
  };

  for (let index = 0; index < options.sockets; index += 1) {
    // A reconnect would hide a dropped socket, so it waits longer than any run.
    const socket = new Socket(`ws://${options.host}:${options.port}/socket`, {
      transport: WebSocket,
      timeout: options.joinTimeout * 1000,
      heartbeatIntervalMs: options.heartbeat * 1000,
      reconnectAfterMs: () => 24 * 3600 * 1000,
      rejoinAfterMs: () => 24 * 3600 * 1000,
    });
    const witness = { socket, joined: false, closed: false, finished: false };
    witnesses.push(witness);

    socket.onMessage((message) => {
      if (message.topic === 'phoenix' && message.event === 'phx_reply') report.frames.heartbeat_replies += 1;
    });
    socket.onClose((event) => {
      if (witness.closed) return;
      witness.closed = true;
      if (witness.joined) {
        bump(report.closes_after_join, `close ${event.code}`);
      } else {
        bump(report.failures, `close ${event.code}`);
        finish(witness);
      }
    });

    const channel = socket.channel(LOBBY);
    channel.on('welcome', () => {
      if (witness.joined) return;
      const nowUs = monotonicMicros();
      witness.joined = true;
      report.joined += 1;
      report.join_latency_us.push(nowUs - startedUs);
      if (!report.first_welcome_us) report.first_welcome_us = nowUs;
      report.last_welcome_us = nowUs;
      finish(witness);
    });
    channel.on('tick', (payload) => {
      const nowUs = monotonicMicros();
      report.frames.ticks += 1;
      if (!witness.joined) return;
      (report.tick_receipts_us[payload.tick] ??= []).push(nowUs);
      report.last_tick = payload;
    });
    channel.on('presence', () => (report.frames.presence += 1));
    channel.on('evolution', () => (report.frames.evolution += 1));
    channel
      .join()
      .receive('error', (response) => {
        bump(report.failures, `join error ${JSON.stringify(response)}`);
        finish(witness);
      })
      .receive('timeout', () => {
        bump(report.failures, 'join timeout');
        finish(witness);
      });
    socket.connect();
  }

  const giveUp = setTimeout(() => {
    for (const witness of witnesses) {
      if (!witness.finished) {
        bump(report.failures, 'not welcomed in time');
        finish(witness);
      }
    }
  }, options.joinTimeout * 1000);

  const stop = () => {
    clearTimeout(giveUp);
    report.stopped_us = monotonicMicros();
    report.open_at_stop = witnesses.filter((witness) => witness.joined && !witness.closed).length;
    const temporaryPath = `${options.output}.part`;
    writeFileSync(temporaryPath, `${JSON.stringify(report)}\n`);
    renameSync(temporaryPath, options.output);
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  setTimeout(stop, options.maxRun * 1000).unref();
}

main();
