// Outcomes of running blocks and judging steps, and plans of what a run would do. Plain data shared by the executor,
// verifier, store, API, wire protocol and browser.

export type BlockStatus = 'pending' | 'running' | 'passed' | 'failed' | 'warning' | 'skipped';
export type StepStatus = 'passed' | 'failed' | 'warning' | 'skipped';

/** What ended a block, besides a normal exit. */
export type BlockEnd = 'exit' | 'timeout' | 'interrupted' | 'session-ended' | 'skipped';

export interface BlockResult {
  id: string;
  status: BlockStatus;
  /** Exit code as reported by the shell; null when it never finished (session ended, skipped). */
  exitCode: number | null;
  /** Captured output as plain text (escape sequences removed, secrets masked, possibly truncated). */
  output: string;
  durationMs: number;
  end: BlockEnd;
  /** Why it failed, warned or was skipped, for people. */
  reason?: string;
  /** sha256 hex of the full raw output bytes (before truncation). */
  outputDigest?: string;
  /** Seconds since the recording started, when the block began (its asciicast marker). */
  castTime?: number;
  /** 1-based attempt number when the block has `retries`. */
  attempt?: number;
}

export interface CheckResult extends BlockResult {
  hint?: string;
}

export interface StepVerdict {
  stepId: string;
  status: StepStatus;
  reason?: string;
  blocks: BlockResult[];
  checks: CheckResult[];
}

/** What a block or step execution returns over the API. */
export interface ExecutionReport {
  status: string;
  reason?: string;
  blocks: BlockResult[];
  checks: CheckResult[];
}

export interface PlannedBlock {
  id: string;
  kind: 'command' | 'check' | 'file' | 'display';
  /** `rollback`: a rollback=true block, run only if a failed run is rolled back (never forward). */
  action: 'run' | 'skip' | 'rollback';
  reason?: string;
  confirm: boolean;
  /** The text as it would run, declared variables substituted (secrets masked). */
  text: string;
  /** A runbook that spans hosts: the role whose host it would run on. */
  role?: string;
}

export interface PlannedStep {
  id: string;
  title: string;
  blocks: PlannedBlock[];
}

