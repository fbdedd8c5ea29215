// `stepwise approve <runId> [--reject] [--comment TEXT]`: approves (or rejects) the block a run
// waits on, as the user of an API token (STEPWISE_TOKEN, or --token, which `ps` shows). It works
// on the data folder directly, so it decides for a headless run waiting in another process:
// that run sees the decision and records it in its chain.
import fs from 'node:fs';
import path from 'node:path';
import { RunStore } from '../record/store.ts';
import { Users } from '../record/users.ts';
import { Approvals } from '../run/approvals.ts';
import { cliTranslator, dataDir } from './config.ts';

const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

export interface ApproveArgs {
  runId?: string;
  reject?: boolean;
  comment?: string;
  token?: string;
  block?: string;
  data?: string;
}

export function approveCommand(a: ApproveArgs, out: (s: string) => void): number {
  const tr = cliTranslator();
  if (!a.runId) {
    out(tr.t('cli.approve.usage'));
    return EXIT_USAGE;
  }
  const token = a.token ?? process.env.STEPWISE_TOKEN;
  if (!token) {
    out(tr.t('cli.usage', { command: 'approve', message: tr.t('cli.approve.noToken') }));
    return EXIT_USAGE;
  }
  const dir = dataDir(a.data);
  if (!fs.existsSync(path.join(dir, 'stepwise.db'))) {
    out(tr.t('cli.usage', { command: 'approve', message: tr.t('cli.approve.noRuns', { dir }) }));
    return EXIT_USAGE;
  }
  const store = RunStore.open(dir);
  try {
    const who = new Users(store.database).resolve(token);
    if (!who) {
      out(tr.t('cli.usage', { command: 'approve', message: tr.t('cli.approve.badToken') }));
      return EXIT_FAILED;
    }
    const decision = a.reject ? 'reject' : 'approve';
    const r = new Approvals(store).decide(a.runId, who, decision, a.comment ?? '', a.block);
    if (!r.ok) {
      out(tr.t('cli.usage', { command: 'approve', message: r.error.message }));
      return EXIT_FAILED;
    }
    const req = r.value;
    const approvals = req.decisions.filter((d) => d.decision === 'approve').length;
    out(tr.t('cli.approve.decided', { user: who.user, decision, block: req.blockId, run: req.runId, state: req.state, approvals: String(approvals), need: String(req.need) }));
    return 0;
  } finally {
    store.close();
  }
}
