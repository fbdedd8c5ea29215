// `stepwise approve <runId> [--reject] [--comment TEXT]`: approves (or rejects) the block a run
// waits on, as the user of an API token (STEPWISE_TOKEN, or --token, which `ps` shows). It works
// on the data folder directly, so it decides for a headless run waiting in another process:
// that run sees the decision and records it in its chain.
import fs from 'node:fs';
import path from 'node:path';
import { RunStore } from '../record/store.ts';
import { Users } from '../record/users.ts';
import { Approvals } from '../run/approvals.ts';
import { dataDir } from './config.ts';

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
  if (!a.runId) {
    out('usage: stepwise approve <runId> [--reject] [--comment TEXT] [--block ID] (token in STEPWISE_TOKEN, or --token)');
    return EXIT_USAGE;
  }
  const token = a.token ?? process.env.STEPWISE_TOKEN;
  if (!token) {
    out('stepwise approve: give your API token in STEPWISE_TOKEN (or --token; a command line shows in `ps`)');
    return EXIT_USAGE;
  }
  const dir = dataDir(a.data);
  if (!fs.existsSync(path.join(dir, 'stepwise.db'))) {
    out(`stepwise approve: no runs are recorded in ${dir}`);
    return EXIT_USAGE;
  }
  const store = RunStore.open(dir);
  try {
    const who = new Users(store.database).resolve(token);
    if (!who) {
      out('stepwise approve: the token is not valid here (unknown or revoked)');
      return EXIT_FAILED;
    }
    const decision = a.reject ? 'reject' : 'approve';
    const r = new Approvals(store).decide(a.runId, who, decision, a.comment ?? '', a.block);
    if (!r.ok) {
      out(`stepwise approve: ${r.error.message}`);
      return EXIT_FAILED;
    }
    const req = r.value;
    const approvals = req.decisions.filter((d) => d.decision === 'approve').length;
    out(`${who.user} ${decision === 'approve' ? 'approved' : 'rejected'} block ${req.blockId} of run ${req.runId}` +
      (req.state === 'pending' ? ` (${approvals} of ${req.need} approvals; still waiting)` : ` (${req.state})`));
    return 0;
  } finally {
    store.close();
  }
}
