// `stepwise evidence <runId> --output FILE.zip`: a run's evidence bundle, signed when
// STEPWISE_SIGNING_KEY names an Ed25519 private key (PEM).
// `stepwise evidence verify FILE [--pubkey PEM]`: checks a bundle offline, with no data folder;
// exits 1 naming each thing that failed.
import fs from 'node:fs';
import path from 'node:path';
import { RunStore } from '../record/store.ts';
import { loadCatalog } from '../runbook/catalog.ts';
import { RunHistory } from '../run/history.ts';
import { buildEvidence, loadSigningKey } from '../report/evidence.ts';
import { checkEvidence } from '../report/evidence-check.ts';
import { loadPlayerAssets } from '../report/html.ts';
import { cliTranslator, dataDir, runbooksDir } from './config.ts';

const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

export interface EvidenceArgs {
  action: string | undefined;
  args: string[];
  output?: string;
  pubkey?: string;
  data?: string;
  runbooks?: string;
}

export function evidenceCommand(a: EvidenceArgs, out: (s: string) => void): number {
  if (a.action === 'verify') return verifyCommand(a, out);
  const tr = cliTranslator();
  if (a.action === undefined || a.args.length > 0) {
    out(tr.t('cli.evidence.usage'));
    return EXIT_USAGE;
  }
  if (!a.output) {
    out(tr.t('cli.usage', { command: 'evidence', message: tr.t('cli.evidence.giveOutput') }));
    return EXIT_USAGE;
  }
  const runId = a.action;
  const dir = dataDir(a.data);
  if (!fs.existsSync(path.join(dir, 'stepwise.db'))) {
    out(tr.t('cli.usage', { command: 'evidence', message: tr.t('cli.report.noRuns', { id: JSON.stringify(runId), dir }) }));
    return EXIT_USAGE;
  }
  const keyFile = process.env.STEPWISE_SIGNING_KEY;
  const key = keyFile ? loadSigningKey(keyFile) : undefined;
  if (key && !key.ok) {
    out(tr.t('cli.usage', { command: 'evidence', message: key.error.message }));
    return EXIT_FAILED;
  }
  const store = RunStore.open(dir);
  try {
    const catalog = loadCatalog(runbooksDir(a.runbooks));
    const r = buildEvidence(new RunHistory(store, () => catalog), runId, { assets: loadPlayerAssets(), ...(key?.ok ? { signingKey: key.value } : {}) });
    if (!r.ok) {
      const message = r.error.code === 'NOT_FOUND' ? tr.t('cli.report.notFound', { message: r.error.message }) : r.error.message;
      out(tr.t('cli.usage', { command: 'evidence', message: message }));
      return EXIT_USAGE;
    }
    try {
      fs.writeFileSync(a.output, r.value.zip, { mode: 0o600 });
    } catch (e) {
      out(tr.t('cli.usage', { command: 'evidence', message: tr.t('cli.report.cannotWrite', { file: a.output, message: (e as Error).message }) }));
      return EXIT_FAILED;
    }
    const m = r.value.manifest;
    out(tr.t('cli.evidence.wrote', {
      file: a.output,
      bytes: String(r.value.zip.length),
      files: String(m.files.length),
      head: m.chainHead ?? 'none',
      signed: m.signature ? 'yes' : 'no',
      fingerprint: m.signature?.publicKeyFingerprint ?? '',
    }));
    return 0;
  } finally {
    store.close();
  }
}

function verifyCommand(a: EvidenceArgs, out: (s: string) => void): number {
  const tr = cliTranslator();
  if (a.args.length !== 1) {
    out(tr.t('cli.evidence.verifyUsage'));
    return EXIT_USAGE;
  }
  const file = a.args[0]!;
  let zip: Buffer;
  let pubkey: Buffer | undefined;
  try {
    zip = fs.readFileSync(file);
    pubkey = a.pubkey === undefined ? undefined : fs.readFileSync(a.pubkey);
  } catch (e) {
    out(tr.t('cli.usage', { command: 'evidence verify', message: (e as Error).message }));
    return EXIT_USAGE;
  }
  const c = checkEvidence(zip, pubkey);
  for (const p of c.passed) out(`ok      ${p}`);
  for (const p of c.problems) out(`FAILED  ${p}`);
  if (c.problems.length) {
    out(tr.t('cli.evidence.untrusted', { file, problems: c.problems.length, count: String(c.problems.length) }));
    return EXIT_FAILED;
  }
  out(tr.t('cli.evidence.trusted', { file, run: String(c.run), head: String(c.chainHead), signed: c.signedBy ? 'yes' : 'no' }));
  return 0;
}
