// The websocket wire protocol, shared by the server gateway and the browser.
// Binary frames carry raw terminal bytes both ways; text frames carry the JSON messages below.
// Pure: no Node or DOM imports, so the browser bundle can include it.

import type { BlockResult, StepVerdict } from './exec/result.ts';

// ---- client → server (text frames) ----
export type ClientMessage =
  | { type: 'resize'; cols: number; rows: number }
  /** bytes: output bytes consumed since the previous ack (flow control). */
  | { type: 'ack'; bytes: number };

// ---- server → client (text frames) ----
export type ServerMessage =
  | { type: 'hello'; runId: string; role: 'operator' | 'viewer'; flow: { high: number; low: number; ackEvery: number } }
  | { type: 'block-started'; runId: string; blockId: string; stepId: string }
  | { type: 'block-finished'; runId: string; result: BlockResult; stepId: string }
  | { type: 'step-verdict'; runId: string; verdict: StepVerdict }
  | { type: 'session-ended'; runId: string; exitCode: number | null }
  | { type: 'error'; code: string; message: string };

/** Largest text frame the gateway accepts: control messages are tiny. */
export const MAX_CONTROL_MESSAGE_BYTES = 4096;

export type ParseOutcome = { ok: true; message: ClientMessage } | { ok: false; error: string };

const isInt = (v: unknown, min: number, max: number): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

/** Validates an untrusted text frame. Never throws. */
export function parseClientMessage(text: string): ParseOutcome {
  if (text.length > MAX_CONTROL_MESSAGE_BYTES) return { ok: false, error: 'message too large' };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, error: 'not JSON' };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, error: 'not an object' };
  const m = raw as Record<string, unknown>;
  switch (m.type) {
    case 'resize':
      if (!isInt(m.cols, 1, 1000) || !isInt(m.rows, 1, 1000)) return { ok: false, error: 'resize needs integer cols and rows in 1..1000' };
      return { ok: true, message: { type: 'resize', cols: m.cols, rows: m.rows } };
    case 'ack':
      if (!isInt(m.bytes, 0, Number.MAX_SAFE_INTEGER)) return { ok: false, error: 'ack needs a non-negative integer bytes' };
      return { ok: true, message: { type: 'ack', bytes: m.bytes } };
    default:
      return { ok: false, error: `unknown message type ${JSON.stringify(String(m.type)).slice(0, 60)}` };
  }
}

/** Exhaustiveness helper for switches over the unions above. */
export function assertNever(x: never): never {
  throw new Error(`unexpected message ${JSON.stringify(x)}`);
}
