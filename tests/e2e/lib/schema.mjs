// Checks every frame the server sends against the project's message schema
// (shared/schema/messages.schema.json), the same file the web page and the QML
// client are tested against.
//
// `FrameLog` collects the frames that the clients of one test receive and the
// violations among them. `checkedTransport(log)` returns a `ws` WebSocket class
// that records into such a log. Pass it to the phoenix `Socket` as `transport`,
// or construct it directly for a raw client.

import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const schemaPath = join(repoRoot, 'shared/schema/messages.schema.json');
export const cataloguePath = join(repoRoot, 'shared/milestones.json');

export const messageSchema = JSON.parse(readFileSync(schemaPath, 'utf8'));
export const catalogue = JSON.parse(readFileSync(cataloguePath, 'utf8')).milestones;

// The schema is draft-07. Its `oneOf` branches are 5-tuples that inherit the
// length and the element types from the enclosing `server_frame`, which Ajv's
// strict mode reports as incomplete tuples and untyped keywords. Those two
// checks are about schema style, not about the frames, so they are off.
const ajv = new Ajv({ allErrors: true, strictTuples: false, strictTypes: false });
addFormats(ajv);

export const validateServerFrame = ajv.compile(messageSchema);

// A validator for each event's `oneOf` branch, keyed by the event name that the
// branch fixes, read from the schema so that a new event needs no change here.
const branchValidators = new Map(
  messageSchema.definitions.server_frame.oneOf.map((branch, index) => [
    branch.items[3].const,
    ajv.getSchema(`${messageSchema.$id}#/definitions/server_frame/oneOf/${index}`),
  ]),
);

// Schema paths of the keywords that check the frame's shape: the array, its
// length and its element types.
const shapeKeyword = /^#\/(type|minItems|maxItems|items)\b/;

const describeErrors = (errors) => ajv.errorsText(errors, { dataVar: 'frame' });

// Returns null when `frame` is a valid server frame, otherwise a one-line
// description of what is wrong. For a known event only the errors of that
// event's branch are listed, because every other branch fails by design.
export function serverFrameError(frame) {
  if (validateServerFrame(frame)) return null;
  const allErrors = validateServerFrame.errors;

  const shapeErrors = allErrors.filter((e) => shapeKeyword.test(e.schemaPath));
  if (shapeErrors.length > 0) return describeErrors(shapeErrors);

  const validateBranch = branchValidators.get(frame[3]);
  if (!validateBranch) return `frame/3 ${JSON.stringify(frame[3])} is not an event that the schema defines`;
  if (!validateBranch(frame)) return describeErrors(validateBranch.errors);
  return describeErrors(allErrors);
}

// The frames that the clients of one test received, in arrival order, and
// every frame that was not valid. The server sends only JSON text frames, so a
// binary frame or a text frame that is not JSON is itself a violation.
export class FrameLog {
  constructor() {
    this.frames = [];
    this.violations = [];
  }

  record(data, isBinary) {
    if (isBinary) {
      this.violations.push({ text: `<binary frame of ${data.length} bytes>`, error: 'the server sent a binary frame' });
      return null;
    }

    const text = data.toString('utf8');
    let frame;
    try {
      frame = JSON.parse(text);
    } catch (error) {
      this.violations.push({ text, error: `not JSON: ${error.message}` });
      return null;
    }

    this.frames.push(frame);
    const error = serverFrameError(frame);
    if (error) this.violations.push({ text, error });
    return frame;
  }
}

// Returns a WebSocket class (from the `ws` package) whose instances record
// every received frame in `log` before any other listener receives it.
export function checkedTransport(log) {
  return class CheckedWebSocket extends WebSocket {
    constructor(url, protocols, options) {
      super(url, protocols, options);
      this.on('message', (data, isBinary) => log.record(data, isBinary));
    }
  };
}
