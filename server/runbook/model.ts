// The Runbook model: what the pure parser produces from one Markdown file.
// Everything here is plain data (JSON-serialisable) so it can be sent to the browser,
// stored with a run and compared in golden fixtures.

import type { Diagnostic } from '../errors.ts';

/** Platform identities a block or runbook may be restricted to (free-form, lower-case). */
export type Platform = string;

export interface VarSpec {
  name: string;
  default: string;
  describe: string;
  /** Source text of a regex the whole value must match (anchored by the validator). */
  pattern?: string;
  /** What to tell a person whose value does not match `pattern` (in the runbook's words). */
  patternMessage?: string;
  secret: boolean;
  line: number;
}

/**
 * Block kinds:
 * - command: an executable sh/bash/shell block run as one of the step's commands;
 * - check:   an executable block with `verify`, run after the step's commands to judge it;
 * - file:    a block with `file=/path` whose content is written to the target;
 * - display: any other fenced block (sample output, XML fragment): shown, never run.
 */
export type BlockKind = 'command' | 'check' | 'file' | 'display';

export interface Block {
  id: string;
  kind: BlockKind;
  /** Fence language as written (`sh`, `console`, `xml`, or '' for none). */
  lang: string;
  /** The block's text as written in the runbook (no trailing newline). */
  content: string;
  /** 1-based line of the opening fence in the runbook file. */
  line: number;
  stepId: string;
  /** Attributes parsed and typed; unknown attributes are diagnostics, not kept. */
  timeoutSec?: number;
  /** Further attempts after a failure (`retries=N`), each recorded, `retryDelaySec` apart. */
  retries?: number;
  retryDelaySec?: number;
  expect?: string;
  exit: number;
  confirm: boolean;
  os?: Platform[];
  interactive: boolean;
  hint?: string;
  file?: string;
  mode?: string;
  /** Hardware or capability names the target must have (e.g. `pci-passthrough`). */
  requires?: string[];
  /** `approve=true|N`: N distinct approvers, none the run's operator, before the block runs. */
  approve?: number;
  /** `approveTimeout=SECONDS`: the wait for approval expires (the block fails) after this. */
  approveTimeoutSec?: number;
  /**
   * From an `answers` block right after this interactive block: what a headless run types at
   * each prompt, in order (`send` may hold ${NAME} of a declared variable, secrets included).
   */
  answers?: Answer[];
  /** How long a headless run waits for each expected prompt (the answers block's `timeout=`). */
  answersTimeoutSec?: number;
  /**
   * The role whose host runs this block (`on=ROLE`), set on every executable block of a runbook
   * that declares `roles:` (the first role when the block names none); absent otherwise.
   */
  on?: string;
  /**
   * `rollback=true`: never run forward; run only when a failed run is rolled back, to undo
   * this step (server/run/rollback.ts). Listed in its step's `rollback`, not `commands`.
   */
  rollback?: true;
}

export interface Answer {
  /** A JavaScript regex the program's output must match before `send` is typed. */
  expect: string;
  send: string;
}

/** A step body is prose interleaved with blocks, in document order. */
export type StepPart = { kind: 'prose'; markdown: string } | { kind: 'block'; blockId: string };

export interface Step {
  id: string;
  title: string;
  line: number;
  parts: StepPart[];
  /** Ids of executable non-check blocks (commands and files) in order. */
  commands: string[];
  /** Ids of check blocks in order. */
  checks: string[];
  /** `hint` blocks' texts in order: revealed one at a time on request (server/class/hints.ts), never in `parts`. */
  hints?: string[];
  /** The `solution` block's text: revealed after 3 failed attempts or by the trainer; never in `parts`. */
  solution?: string;
  /** Ids of rollback blocks (`rollback=true`) in document order; absent when none. */
  rollback?: string[];
}

export interface Runbook {
  id: string;
  /** Path relative to the runbooks folder, as given to the parser (used in diagnostics). */
  file: string;
  title: string;
  summary: string;
  section?: string;
  os?: Platform[];
  /** The language the prose is written in, when the front matter says (`lang: ko`); absent means `en`. */
  lang?: string;
  requires: string[];
  /**
   * The hosts the runbook spans (`roles: [source, destination]`), bound to targets when it runs;
   * absent for a runbook on one host. Each executable block runs on its role's host (`on=`).
   */
  roles?: string[];
  vars: VarSpec[];
  /** Markdown before the first H2. */
  intro: string;
  steps: Step[];
  blocks: Record<string, Block>;
  /** sha256 hex of the file's bytes as parsed: pins a run to the runbook as it was. */
  contentHash: string;
}

export interface ParseResult {
  /** Present unless the file is too broken to model at all. */
  runbook?: Runbook;
  diagnostics: Diagnostic[];
}
