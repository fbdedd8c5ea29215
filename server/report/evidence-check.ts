// Checks an evidence bundle (evidence.ts) on any machine, offline, with no data folder: every
// file's sha256 against the manifest, the audit chain recomputed from its events, the chain
// head against the manifest, the recording's digest against the one sealed in the chain, the
// runbook's against the version the chain recorded, the run record against the chain, and
// the manifest's Ed25519 signature. Pure: bytes in, the list of problems out.

import crypto from 'node:crypto';
import { unzipSync } from 'fflate';
import { canonical, sha256, verifyChain, type AuditEvent } from '../record/chain.ts';
import { EVIDENCE_SCHEMA, FILES, keyFingerprint, MANIFEST, SIGNATURE, type EvidenceManifest } from './evidence.ts';
import { roleRecordingName } from './roles.ts';

/** Largest file a bundle may hold when checked: a zip's sizes are claims, and a bomb claims little. */
const MAX_FILE_BYTES = 1024 * 1024 * 1024;

export interface EvidenceCheck {
  run: string | null;
  chainHead: string | null;
  /** sha256 of the key the manifest is signed with, when it is signed. */
  signedBy: string | null;
  /** What was checked and held, one line each. */
  passed: string[];
  /** What failed, one line each, naming the file or the check. */
  problems: string[];
}

export function checkEvidence(zip: Uint8Array, pubkeyPem?: string | Buffer): EvidenceCheck {
  const out: EvidenceCheck = { run: null, chainHead: null, signedBy: null, passed: [], problems: [] };
  const fail = (s: string): void => void out.problems.push(s);
  const pass = (s: string): void => void out.passed.push(s);

  let files: Record<string, Uint8Array>;
  try {
    const tooBig: string[] = [];
    files = unzipSync(zip, { filter: (f) => (f.originalSize > MAX_FILE_BYTES ? (tooBig.push(f.name), false) : true) });
    for (const name of tooBig) fail(`${name}: larger than ${MAX_FILE_BYTES} bytes, not read`);
  } catch (e) {
    fail(`the bundle is not a readable zip file: ${(e as Error).message}`);
    return out;
  }
  const text = (name: string): string | undefined => (files[name] ? Buffer.from(files[name]).toString('utf8') : undefined);

  const manifestBytes = files[MANIFEST];
  let manifest: EvidenceManifest;
  try {
    if (!manifestBytes) throw new Error('missing');
    manifest = JSON.parse(Buffer.from(manifestBytes).toString('utf8')) as EvidenceManifest;
    if (manifest?.schema !== EVIDENCE_SCHEMA || !Array.isArray(manifest.files)) throw new Error(`not a ${EVIDENCE_SCHEMA} manifest`);
  } catch (e) {
    fail(`${MANIFEST}: ${(e as Error).message}`);
    return out;
  }
  out.run = typeof manifest.run === 'string' ? manifest.run : null;
  out.chainHead = manifest.chainHead ?? null;

  // 1. The signature first: it is what ties the manifest (and so every hash in it) to a key.
  checkSignature(manifestBytes, files[SIGNATURE], manifest, pubkeyPem, out);

  // 2. Every listed file is there with its hash; nothing else is.
  const listed = new Set<string>();
  for (const f of manifest.files) {
    listed.add(f.path);
    const body = files[f.path];
    if (!body) fail(`${f.path}: listed in the manifest but missing from the bundle`);
    else if (sha256(Buffer.from(body)) !== f.sha256) fail(`${f.path}: sha256 ${sha256(Buffer.from(body)).slice(0, 12)}… is not the manifest's ${String(f.sha256).slice(0, 12)}… (the file was changed)`);
    else pass(`${f.path}: sha256 matches the manifest`);
  }
  for (const name of Object.keys(files)) {
    if (name !== MANIFEST && name !== SIGNATURE && !listed.has(name)) fail(`${name}: in the bundle but not listed in the manifest`);
  }

  // 3. The audit chain, recomputed.
  const events = parseEvents(text(FILES.audit), fail);
  if (events && out.run) {
    const broken = verifyChain(out.run, events);
    if (broken) fail(`${FILES.audit}: event ${broken.n}: ${broken.what}`);
    else if (events.length === 0) fail(`${FILES.audit}: no audit events`);
    else pass(`${FILES.audit}: the chain of ${events.length} events recomputes`);
    const head = events.at(-1)?.hash ?? null;
    if (head !== manifest.chainHead) fail(`${FILES.audit}: the chain's head ${String(head).slice(0, 12)}… is not the manifest's ${String(manifest.chainHead).slice(0, 12)}…`);
    if (!broken) checkAgainstChain(events, files, text, fail, pass);
  }
  return out;
}

function parseEvents(text: string | undefined, fail: (s: string) => void): AuditEvent[] | undefined {
  if (text === undefined) {
    fail(`${FILES.audit}: missing`);
    return undefined;
  }
  const events: AuditEvent[] = [];
  for (const [i, line] of text.split('\n').filter((l) => l.length > 0).entries()) {
    try {
      const e = JSON.parse(line) as AuditEvent;
      // The line must be the event's canonical form, so the recipe in docs/audit.md (sed and sha256sum) holds too.
      if (canonical(e) !== line) fail(`${FILES.audit}: line ${i + 1} is not in canonical JSON (RFC 8785)`);
      events.push(e);
    } catch {
      fail(`${FILES.audit}: line ${i + 1} is not valid JSON`);
      return undefined;
    }
  }
  return events;
}

/** The recording, the runbook and the run record agree with what the (intact) chain recorded. */
function checkAgainstChain(
  events: AuditEvent[],
  files: Record<string, Uint8Array>,
  text: (name: string) => string | undefined,
  fail: (s: string) => void,
  pass: (s: string) => void,
): void {
  const seal = events.find((e) => e.type === 'recording-sealed');
  const cast = files[FILES.recording];
  if (seal && !cast) fail(`${FILES.recording}: missing, but the chain sealed a recording`);
  else if (seal && cast) {
    if (sha256(Buffer.from(cast)) !== seal.data.castDigest) fail(`${FILES.recording}: sha256 is not the digest sealed in the chain (event ${seal.n})`);
    else pass(`${FILES.recording}: its sha256 is the one sealed in the chain (event ${seal.n})`);
  } else if (cast) fail(`${FILES.recording}: the chain never sealed a recording, so it proves nothing about this one`);
  // A runbook that spans hosts: every other role's recording, each against its own seal.
  for (const e of events.filter((x) => x.type === 'recording-sealed' && x !== seal && typeof x.data.role === 'string')) {
    const name = roleRecordingName(e.data.role as string);
    const body = files[name];
    if (!body) fail(`${name}: missing, but the chain sealed the recording of role ${String(e.data.role)}`);
    else if (sha256(Buffer.from(body)) !== e.data.castDigest) fail(`${name}: sha256 is not the digest sealed in the chain (event ${e.n})`);
    else pass(`${name}: its sha256 is the one sealed in the chain (event ${e.n})`);
  }

  const started = events.find((e) => e.type === 'run-started');
  const runbook = files[FILES.runbook];
  if (runbook && started) {
    if (sha256(Buffer.from(runbook)) !== started.data.contentHash) fail(`${FILES.runbook}: sha256 is not the runbook version the chain recorded`);
    else pass(`${FILES.runbook}: its sha256 is the runbook version the chain recorded`);
  }

  const recordText = text(FILES.record);
  if (recordText === undefined) return fail(`${FILES.record}: missing`);
  let record: { run?: Record<string, unknown>; blocks?: Array<Record<string, unknown>>; approvals?: Array<{ blockId?: unknown; decisions?: Array<Record<string, unknown>> }> };
  try {
    record = JSON.parse(recordText) as typeof record;
  } catch {
    return fail(`${FILES.record}: not valid JSON`);
  }
  let ok = true;
  if (started && record.run) {
    for (const k of ['runbookId', 'contentHash', 'user', 'target', 'vars']) {
      if (canonical(record.run[k] ?? null) !== canonical(started.data[k] ?? null)) {
        fail(`${FILES.record}: run.${k} is not what the chain recorded`);
        ok = false;
      }
    }
  }
  const finished = events.filter((e) => e.type === 'block-finished');
  const blocks = record.blocks ?? [];
  if (blocks.length !== finished.length) {
    fail(`${FILES.record}: ${blocks.length} block results, the chain recorded ${finished.length}`);
    ok = false;
  }
  for (const [i, b] of blocks.entries()) {
    const ev = finished[i];
    if (!ev) break;
    const have = { blockId: b.id, stepId: b.stepId, status: b.status, exitCode: b.exitCode, textDigest: sha256(String(b.output ?? '')) };
    const bad = (Object.keys(have) as Array<keyof typeof have>).filter((k) => canonical(have[k] ?? null) !== canonical(ev.data[k] ?? null));
    if (bad.length) {
      fail(`${FILES.record}: block result ${i + 1} (${String(b.id)}): ${bad.map((k) => (k === 'textDigest' ? 'output' : k)).join(', ')} not what the chain recorded (event ${ev.n})`);
      ok = false;
    }
  }
  // Each approval decision in the record is one the chain recorded, in the same order.
  const decided = events.filter((e) => e.type === 'approval-granted' || e.type === 'approval-rejected');
  const recorded = (record.approvals ?? []).flatMap((a) => (a.decisions ?? []).map((d): Record<string, unknown> => ({ ...d, blockId: a.blockId })));
  const inChain = decided.map((e) => ({ blockId: e.data.blockId, user: e.data.user, decision: e.type === 'approval-granted' ? 'approve' : 'reject', comment: e.data.comment }));
  const mine = recorded.map((d) => ({ blockId: d.blockId, user: d.user, decision: d.decision, comment: d.comment }));
  if (canonical(mine) !== canonical(inChain)) {
    fail(`${FILES.record}: its ${mine.length} approval decisions are not the ${inChain.length} the chain recorded`);
    ok = false;
  }
  if (ok) pass(`${FILES.record}: the run, its ${blocks.length} block results and ${mine.length} approval decisions agree with the chain`);
}

function checkSignature(manifestBytes: Uint8Array, sig: Uint8Array | undefined, m: EvidenceManifest, pubkeyPem: string | Buffer | undefined, out: EvidenceCheck): void {
  let given: crypto.KeyObject | undefined;
  if (pubkeyPem !== undefined) {
    try {
      given = crypto.createPublicKey(pubkeyPem);
    } catch (e) {
      out.problems.push(`--pubkey: not a public key: ${(e as Error).message}`);
      return;
    }
  }
  if (!sig || !m.signature) {
    if (given) out.problems.push(`${SIGNATURE}: the bundle is not signed, but a public key was given to check it with`);
    return;
  }
  let key: crypto.KeyObject;
  try {
    key = given ?? crypto.createPublicKey(m.signature.publicKey);
  } catch (e) {
    out.problems.push(`${MANIFEST}: its public key cannot be read: ${(e as Error).message}`);
    return;
  }
  const fp = keyFingerprint(key);
  let valid = false;
  try {
    valid = key.asymmetricKeyType === 'ed25519' && crypto.verify(null, manifestBytes, key, sig);
  } catch {
    valid = false;
  }
  if (!valid) {
    out.problems.push(`${SIGNATURE}: the signature does not verify with ${given ? 'the given public key' : "the manifest's public key"} (${fp.slice(0, 16)}…)${given && fp !== m.signature.publicKeyFingerprint ? `; the bundle says it was signed by ${String(m.signature.publicKeyFingerprint).slice(0, 16)}…` : ''}`);
    return;
  }
  if (!given && fp !== m.signature.publicKeyFingerprint) {
    out.problems.push(`${MANIFEST}: the public key's fingerprint is not the one the manifest names`);
    return;
  }
  out.signedBy = fp;
  out.passed.push(`${SIGNATURE}: valid Ed25519 signature by key ${fp}${given ? ' (the key given)' : " (the manifest's own key: pass --pubkey to check whose it is)"}`);
}
