// A raw TCP WebSocket client for the end-to-end tests: it sends the bytes a
// test writes (handshakes, client frames, broken ones too) and keeps every
// byte the server sends, each read apart, so a test can check what arrived
// together.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';

import { waitFor } from './server.mjs';

// A TCP connection that keeps every byte it receives, and each read apart.
export class RawClient {
  static open(port) {
    const client = new RawClient();
    client.socket = connect(port, '127.0.0.1');
    client.received = Buffer.alloc(0);
    client.reads = [];
    client.ended = false;
    client.socket.on('data', (data) => {
      client.received = Buffer.concat([client.received, data]);
      client.reads.push(data);
    });
    client.socket.on('end', () => { client.ended = true; });
    client.socket.on('close', () => { client.ended = true; });
    client.socket.on('error', () => { client.ended = true; });
    return new Promise((resolve, reject) => {
      client.socket.once('connect', () => resolve(client));
      client.socket.once('error', reject);
    });
  }

  send(bytes) { this.socket.write(bytes); }

  // The bytes after the HTTP response head, once the head has arrived.
  async responseHead() {
    await waitFor(() => this.received.includes('\r\n\r\n'), { what: 'an HTTP response head' });
    const end = this.received.indexOf('\r\n\r\n') + 4;
    return this.received.subarray(0, end).toString('latin1');
  }

  framesAfterHead() {
    const start = this.received.indexOf('\r\n\r\n') + 4;
    return serverFrames(this.received.subarray(start));
  }

  async frame(predicate, what) {
    return waitFor(() => this.framesAfterHead().find(predicate), { what });
  }

  closed() { return waitFor(() => this.ended, { what: 'the server to close the connection' }); }

  destroy() { this.socket.destroy(); }
}

export function upgradeRequest({ path = '/socket/websocket?vsn=2.0.0', key, version = '13', method = 'GET', extra = '' } = {}) {
  return `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${key ?? randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: ${version}\r\n${extra}\r\n`;
}

// A client frame as RFC 6455 section 5.2 lays it out.
export function clientFrame(firstByte, payload, { masked = true } = {}) {
  const data = Buffer.from(payload);
  const header = [firstByte];
  const maskBit = masked ? 0x80 : 0;
  if (data.length < 126) header.push(maskBit | data.length);
  else header.push(maskBit | 126, data.length >> 8, data.length & 0xff);
  if (!masked) return Buffer.concat([Buffer.from(header), data]);
  const mask = randomBytes(4);
  const body = Buffer.from(data.map((byte, i) => byte ^ mask[i & 3]));
  return Buffer.concat([Buffer.from(header), mask, body]);
}

// The unmasked frames a server sends; a partial last frame is left out.
export function serverFrames(bytes) {
  const frames = [];
  let offset = 0;
  while (bytes.length - offset >= 2) {
    const opcode = bytes[offset] & 0x0f;
    let length = bytes[offset + 1] & 0x7f;
    let header = 2;
    // The 16-bit length may itself be 127, so the two forms exclude each other.
    if (length === 126) {
      length = bytes.readUInt16BE(offset + 2);
      header = 4;
    } else if (length === 127) {
      length = Number(bytes.readBigUInt64BE(offset + 2));
      header = 10;
    }
    if (bytes.length - offset < header + length) break;
    frames.push({ opcode, payload: bytes.subarray(offset + header, offset + header + length) });
    offset += header + length;
  }
  return frames;
}

// Opens a WebSocket on `port` and resolves once the server has replied 101.
export async function openWebSocket(port) {
  const client = await RawClient.open(port);
  client.send(upgradeRequest());
  assert.match(await client.responseHead(), /^HTTP\/1\.1 101 /);
  return client;
}

// The Phoenix message a text frame carries: [join_ref, ref, topic, event, payload].
export const messageOf = (frame) => JSON.parse(frame.payload.toString('utf8'));

// The messages of each read after the response head, one list per read.
export function messagesByRead(client) {
  const afterHead = client.reads.findIndex((read) => read.includes('\r\n\r\n')) + 1;
  return client.reads.slice(afterHead).map((read) => serverFrames(read).map(messageOf));
}
