// Judges blocks and steps from what ran. Pure.
import type { Block } from '../runbook/model.ts';
import type { BlockEnd, BlockResult, BlockStatus, CheckResult, StepStatus, StepVerdict } from '../../common/result.ts';
import { lastLine } from './capture.ts';
import { compileExpect } from '../runbook/parse.ts';

/** What the executor observed for one block, before judgement. */
export interface Observed {
  exitCode: number | null;
  end: BlockEnd;
  output: string;
  timeoutSec?: number;
  sessionExitCode?: number | null;
}

/** Exit code a check uses to say "warning" (as Gruntwork's checks do). */
export const CHECK_WARNING_EXIT = 2;

export function judgeBlock(block: Block, o: Observed): { status: BlockStatus; reason?: string } {
  switch (o.end) {
    case 'skipped':
      return { status: 'skipped' };
    case 'timeout':
      return { status: 'failed', reason: `timed out after ${o.timeoutSec ?? block.timeoutSec}s (sent Ctrl-C)` };
    case 'interrupted':
      return { status: 'failed', reason: 'interrupted (Ctrl-C) before it finished' };
    case 'session-ended':
      return { status: 'failed', reason: `the shell session ended${o.sessionExitCode != null ? ` (exit code ${o.sessionExitCode})` : ''} while the block ran` };
    case 'exit':
      break;
  }
  const code = o.exitCode ?? -1;
  const last = lastLine(o.output);
  if (block.kind === 'check') {
    if (code === CHECK_WARNING_EXIT) return { status: 'warning', reason: withHint(last ?? 'check returned a warning', block) };
    if (code !== 0) return { status: 'failed', reason: withHint(last ?? `check exited with ${code}`, block) };
  } else if (code !== block.exit) {
    const expected = block.exit === 0 ? '' : ` (expected ${block.exit})`;
    return { status: 'failed', reason: `exited with ${code}${expected}${last ? `: ${last}` : ''}` };
  }
  if (block.expect !== undefined && !compileExpect(block.expect).test(o.output)) {
    return { status: 'failed', reason: withHint(`output did not match /${block.expect}/`, block) };
  }
  return { status: 'passed' };
}

function withHint(reason: string, block: Block): string {
  return block.hint ? `${reason} — hint: ${block.hint}` : reason;
}

/** A step's verdict: commands first, then checks; the worst wins; nothing run = skipped. */
export function judgeStep(stepId: string, blocks: BlockResult[], checks: CheckResult[]): StepVerdict {
  const verdict = (status: StepStatus, reason?: string): StepVerdict =>
    reason === undefined ? { stepId, status, blocks, checks } : { stepId, status, reason, blocks, checks };
  const failedCmd = blocks.find((b) => b.status === 'failed');
  if (failedCmd) return verdict('failed', `${failedCmd.id}: ${failedCmd.reason ?? 'failed'}`);
  const failedCheck = checks.find((c) => c.status === 'failed');
  if (failedCheck) return verdict('failed', failedCheck.reason ?? `${failedCheck.id} failed`);
  const warned = [...blocks, ...checks].find((c) => c.status === 'warning');
  const ran = [...blocks, ...checks].filter((b) => b.status !== 'skipped' && b.status !== 'pending');
  if (ran.length === 0) {
    const reasons = [...new Set([...blocks, ...checks].map((b) => b.reason).filter(Boolean))];
    return verdict('skipped', reasons.join('; ') || 'nothing to run');
  }
  if (warned) return verdict('warning', warned.reason ?? `${warned.id} warned`);
  return verdict('passed');
}

/** Why a block does not apply to a target, or undefined when it does. */
export function skipReason(
  block: Block,
  target: { id: string; platform: string; capabilities: ReadonlySet<string> },
  runbookOs?: readonly string[],
): string | undefined {
  const os = block.os ?? runbookOs;
  if (os && os.length && !os.includes(target.platform)) {
    return `for ${os.join(', ')} only; target ${target.id} is ${target.platform}`;
  }
  const missing = (block.requires ?? []).filter((c) => !target.capabilities.has(c));
  if (missing.length) return `needs ${missing.join(', ')}, which target ${target.id} lacks`;
  return undefined;
}
