// Builds Block objects for tests that exercise the executor without the parser.
import type { Block } from '../../server/runbook/model.ts';

export function cmd(id: string, content: string, extra: Partial<Block> = {}): Block {
  return { id, kind: 'command', lang: 'sh', content, line: 1, stepId: 's', exit: 0, confirm: false, interactive: false, ...extra };
}

export function check(id: string, content: string, extra: Partial<Block> = {}): Block {
  return cmd(id, content, { kind: 'check', ...extra });
}

/** Polls until pred() is true; fails after timeoutMs. Tests wait on conditions, never sleep. */
export async function until(pred: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
