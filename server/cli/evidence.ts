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
import { dataDir, runbooksDir } from './config.ts';

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
  if (a.action === undefined || a.args.length > 0) {
    out('usage: stepwise evidence <runId> --output FILE.zip | stepwise evidence verify FILE [--pubkey PEM]');
    return EXIT_USAGE;
  }
  if (!a.output) {
    out('stepwise evidence: give --output FILE.zip');
    return EXIT_USAGE;
  }
  const runId = a.action;
  const dir = dataDir(a.data);
  if (!fs.existsSync(path.join(dir, 'stepwise.db'))) {
    out(`stepwise evidence: no run ${JSON.stringify(runId)}: no runs are recorded in ${dir}`);
    return EXIT_USAGE;
  }
  const keyFile = process.env.STEPWISE_SIGNING_KEY;
  const key = keyFile ? loadSigningKey(keyFile) : undefined;
  if (key && !key.ok) {
    out(`stepwise evidence: ${key.error.message}`);
    return EXIT_FAILED;
  }
  const store = RunStore.open(dir);
  try {
    const catalog = loadCatalog(runbooksDir(a.runbooks));
    const r = buildEvidence(new RunHistory(store, () => catalog), runId, { assets: loadPlayerAssets(), ...(key?.ok ? { signingKey: key.value } : {}) });
    if (!r.ok) {
      out(`stepwise evidence: ${r.error.message}${r.error.code === 'NOT_FOUND' ? '; see `stepwise runs`' : ''}`);
      return EXIT_USAGE;
    }
    try {
      fs.writeFileSync(a.output, r.value.zip, { mode: 0o600 });
    } catch (e) {
      out(`stepwise evidence: cannot write ${a.output}: ${(e as Error).message}`);
      return EXIT_FAILED;
    }
    const m = r.value.manifest;
    out(`wrote ${a.output} (${r.value.zip.length} bytes, ${m.files.length} files, audit head ${m.chainHead ?? 'none'}${m.signature ? `, signed by ${m.signature.publicKeyFingerprint}` : ', not signed'})`);
    return 0;
  } finally {
    store.close();
  }
}

function verifyCommand(a: EvidenceArgs, out: (s: string) => void): number {
  if (a.args.length !== 1) {
    out('usage: stepwise evidence verify FILE [--pubkey PEM]');
    return EXIT_USAGE;
  }
  const file = a.args[0]!;
  let zip: Buffer;
  let pubkey: Buffer | undefined;
  try {
    zip = fs.readFileSync(file);
    pubkey = a.pubkey === undefined ? undefined : fs.readFileSync(a.pubkey);
  } catch (e) {
    out(`stepwise evidence verify: ${(e as Error).message}`);
    return EXIT_USAGE;
  }
  const c = checkEvidence(zip, pubkey);
  for (const p of c.passed) out(`ok      ${p}`);
  for (const p of c.problems) out(`FAILED  ${p}`);
  if (c.problems.length) {
    out(`${file}: ${c.problems.length} problem${c.problems.length === 1 ? '' : 's'}: the bundle cannot be trusted`);
    return EXIT_FAILED;
  }
  out(`${file}: run ${c.run}, audit head ${c.chainHead}: ${c.signedBy ? 'signed and ' : 'not signed; '}every check passed`);
  return 0;
}
