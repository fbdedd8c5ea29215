// The websocket wire protocol, shared by the server gateway and the browser.
// Binary frames carry raw terminal bytes both ways; text frames carry the JSON messages below.
// Pure: no Node or DOM imports, so the browser bundle can include it.

import type { BlockResult, StepVerdict } from './result.ts';

// ---- client → server (text frames) ----
export type ClientMessage =
  | { type: 'resize'; cols: number; rows: number }
  /** bytes: output bytes consumed since the previous ack (flow control). */
  | { type: 'ack'; bytes: number };

// ---- server → client (text frames) ----
export type ServerMessage =
  /** `terminal`: in a runbook that spans hosts, the role whose terminal this socket carries (`?role=`, default the first). */
  | { type: 'hello'; runId: string; role: 'operator' | 'viewer'; flow: { high: number; low: number; ackEvery: number }; terminal?: string }
  /** `role` (a runbook that spans hosts): the role whose terminal the block is typed in. */
  | { type: 'block-started'; runId: string; blockId: string; stepId: string; role?: string }
  /** A block with approve=N waits for N approvals from people other than `operator` (four eyes). */
  | { type: 'approval-waiting'; runId: string; blockId: string; stepId: string; need: number; operator: string }
  | { type: 'block-finished'; runId: string; result: BlockResult; stepId: string; role?: string }
  | { type: 'step-verdict'; runId: string; verdict: StepVerdict }
  | { type: 'session-ended'; runId: string; exitCode: number | null }
  /** The terminal's screen as it is now (serialized): reset, then write it; live bytes follow. */
  | { type: 'screen'; data: string }
  | { type: 'error'; code: string; message: string }
  /**
   * A class run (server/class/): who has the keyboard. `takenOverBy` is the trainer typing
   * (the trainee's keystrokes are refused meanwhile), null when the trainee has it back.
   */
  | { type: 'class-control'; runId: string; takenOverBy: string | null }
  /** A message from the class's trainer to every trainee (late joiners get the earlier ones on connect). */
  | { type: 'class-message'; classId: string; id: number; from: string; text: string; at: string }
  /** The trainer revealed a step's solution to the trainee: the page fetches it (GET …/hints). */
  | { type: 'class-reveal'; runId: string; stepId: string; by: string };

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

export type ServerParseOutcome = { ok: true; message: ServerMessage } | { ok: false; error: string };

const BLOCK_STATUSES = ['pending', 'running', 'passed', 'failed', 'warning', 'skipped'];
const STEP_STATUSES = ['passed', 'failed', 'warning', 'skipped'];
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string';
const isOptStr = (v: unknown): boolean => v === undefined || typeof v === 'string';

function isBlockResult(v: unknown): v is BlockResult {
  return (
    isObj(v) &&
    isStr(v.id) &&
    BLOCK_STATUSES.includes(v.status as string) &&
    (v.exitCode === null || typeof v.exitCode === 'number') &&
    isStr(v.output) &&
    typeof v.durationMs === 'number' &&
    isStr(v.end) &&
    isOptStr(v.reason)
  );
}

function isStepVerdict(v: unknown): v is StepVerdict {
  return (
    isObj(v) &&
    isStr(v.stepId) &&
    STEP_STATUSES.includes(v.status as string) &&
    isOptStr(v.reason) &&
    Array.isArray(v.blocks) &&
    v.blocks.every(isBlockResult) &&
    Array.isArray(v.checks) &&
    v.checks.every(isBlockResult)
  );
}

/**
 * Validates a server text frame (the browser's side of the protocol). Never throws.
 * Unknown message types are reported as errors so a newer server degrades visibly.
 */
export function parseServerMessage(text: string): ServerParseOutcome {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, error: 'not JSON' };
  }
  if (!isObj(raw)) return { ok: false, error: 'not an object' };
  const m = raw as Record<string, unknown> & { type: ServerMessage['type'] };
  const bad = (what: string): ServerParseOutcome => ({ ok: false, error: `${m.type} message ${what}` });
  switch (m.type) {
    case 'hello': {
      const f = m.flow;
      if (!isStr(m.runId) || (m.role !== 'operator' && m.role !== 'viewer')) return bad('needs runId and role');
      if (!isObj(f) || !isInt(f.high, 1, Number.MAX_SAFE_INTEGER) || !isInt(f.low, 0, Number.MAX_SAFE_INTEGER) || !isInt(f.ackEvery, 1, Number.MAX_SAFE_INTEGER)) {
        return bad('needs flow {high, low, ackEvery}');
      }
      if (!isOptStr(m.terminal)) return bad('has a terminal that is not a string');
      return { ok: true, message: { type: 'hello', runId: m.runId, role: m.role, flow: { high: f.high, low: f.low, ackEvery: f.ackEvery }, ...(isStr(m.terminal) ? { terminal: m.terminal } : {}) } };
    }
    case 'block-started':
      if (!isStr(m.runId) || !isStr(m.blockId) || !isStr(m.stepId) || !isOptStr(m.role)) return bad('needs runId, blockId and stepId');
      return { ok: true, message: { type: 'block-started', runId: m.runId, blockId: m.blockId, stepId: m.stepId, ...(isStr(m.role) ? { role: m.role } : {}) } };
    case 'approval-waiting':
      if (!isStr(m.runId) || !isStr(m.blockId) || !isStr(m.stepId) || !isInt(m.need, 1, Number.MAX_SAFE_INTEGER) || !isStr(m.operator)) return bad('needs runId, blockId, stepId, need and operator');
      return { ok: true, message: { type: 'approval-waiting', runId: m.runId, blockId: m.blockId, stepId: m.stepId, need: m.need, operator: m.operator } };
    case 'block-finished':
      if (!isStr(m.runId) || !isStr(m.stepId) || !isBlockResult(m.result) || !isOptStr(m.role)) return bad('needs runId, stepId and a result');
      return { ok: true, message: { type: 'block-finished', runId: m.runId, stepId: m.stepId, result: m.result, ...(isStr(m.role) ? { role: m.role } : {}) } };
    case 'step-verdict':
      if (!isStr(m.runId) || !isStepVerdict(m.verdict)) return bad('needs runId and a verdict');
      return { ok: true, message: { type: 'step-verdict', runId: m.runId, verdict: m.verdict } };
    case 'session-ended':
      if (!isStr(m.runId) || !(m.exitCode === null || typeof m.exitCode === 'number')) return bad('needs runId and exitCode');
      return { ok: true, message: { type: 'session-ended', runId: m.runId, exitCode: m.exitCode } };
    case 'screen':
      if (!isStr(m.data)) return bad('needs data');
      return { ok: true, message: { type: 'screen', data: m.data } };
    case 'error':
      if (!isStr(m.code) || !isStr(m.message)) return bad('needs code and message');
      return { ok: true, message: { type: 'error', code: m.code, message: m.message } };
    case 'class-control':
      if (!isStr(m.runId) || !(m.takenOverBy === null || isStr(m.takenOverBy))) return bad('needs runId and takenOverBy');
      return { ok: true, message: { type: 'class-control', runId: m.runId, takenOverBy: m.takenOverBy } };
    case 'class-message':
      if (!isStr(m.classId) || !isInt(m.id, 1, Number.MAX_SAFE_INTEGER) || !isStr(m.from) || !isStr(m.text) || !isStr(m.at)) return bad('needs classId, id, from, text and at');
      return { ok: true, message: { type: 'class-message', classId: m.classId, id: m.id, from: m.from, text: m.text, at: m.at } };
    case 'class-reveal':
      if (!isStr(m.runId) || !isStr(m.stepId) || !isStr(m.by)) return bad('needs runId, stepId and by');
      return { ok: true, message: { type: 'class-reveal', runId: m.runId, stepId: m.stepId, by: m.by } };
    default:
      assertNeverType(m.type);
      return { ok: false, error: `unknown message type ${JSON.stringify(String((raw as { type?: unknown }).type)).slice(0, 60)}` };
  }
}

/** Compile-time exhaustiveness for parseServerMessage; at run time an unknown type just falls through. */
function assertNeverType(_t: never): void {}
