// Pure text formatting shared by the server-rendered pages (server/http/pages.ts) and the
// browser, so a result looks the same whether it was rendered on load or arrived live.
// No DOM or Node imports.

import type { BlockStatus, StepStatus } from './result.ts';

/** "85 ms", "1.2 s", "3 min 07 s". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

/** The line under a block's code: "exit 0 · 85 ms", "timed out · 5.0 s". */
export function resultMeta(r: { exitCode: number | null; durationMs: number; end: string }): string {
  const parts: string[] = [];
  if (r.end === 'skipped') parts.push('not run');
  else if (r.end === 'timeout') parts.push(r.exitCode === null ? 'timed out' : `timed out · exit ${r.exitCode}`);
  else if (r.end === 'interrupted') parts.push('interrupted');
  else if (r.end === 'session-ended') parts.push('session ended');
  else parts.push(r.exitCode === null ? 'no exit code' : `exit ${r.exitCode}`);
  if (r.end !== 'skipped') parts.push(formatDuration(r.durationMs));
  return parts.join(' · ');
}

const HINT_SEPARATOR = ' — hint: ';

/** The verifier appends a check's hint to its reason; show them apart. */
export function splitHint(reason: string | undefined): { reason: string; hint?: string } {
  if (!reason) return { reason: '' };
  const i = reason.lastIndexOf(HINT_SEPARATOR);
  if (i < 0) return { reason };
  return { reason: reason.slice(0, i), hint: reason.slice(i + HINT_SEPARATOR.length) };
}

/** Statuses after which a step counts as done (training mode unlocks Next). */
export function isDone(status: StepStatus | BlockStatus | 'pending' | undefined): boolean {
  return status === 'passed' || status === 'warning' || status === 'skipped';
}

export const STATUS_LABEL: Record<BlockStatus, string> = {
  pending: 'pending',
  running: 'running',
  passed: 'passed',
  failed: 'failed',
  warning: 'warning',
  skipped: 'skipped',
};

export const VERDICT_TITLE: Record<StepStatus | 'pending', string> = {
  pending: 'Not verified yet',
  passed: 'Step passed',
  warning: 'Step passed with a warning',
  failed: 'Step failed',
  skipped: 'Step skipped',
};

/** "3 of 5 steps done". */
export function progressText(done: number, total: number): string {
  return `${done} of ${total} ${total === 1 ? 'step' : 'steps'} done`;
}
