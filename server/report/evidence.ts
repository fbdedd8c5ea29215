// The evidence bundle: one zip an auditor can check offline without trusting our server —
// the runbook as run, the recording, the audit events, the run record, report.md and a
// self-contained report.html, and manifest.json listing each file's sha256 and the chain
// head, signed with Ed25519 when a signing key is given. Checking a bundle is
// evidence-check.ts; this module builds one from a data folder (through RunHistory).

import crypto from 'node:crypto';
import fs from 'node:fs';
import { zipSync } from 'fflate';
import { canonical, sha256 } from '../record/chain.ts';
import { failure } from '../errors.ts';
import type { Outcome } from '../../common/outcome.ts';
import type { RunHistory } from '../run/history.ts';
import { recordingFile } from './export.ts';
import { toMarkdown } from './markdown.ts';
import { toHtml, type PlayerAssets } from './html.ts';
import { roleRecordingName } from './roles.ts';

/** Identifies the manifest's shape; bump the number on an incompatible change. */
export const EVIDENCE_SCHEMA = 'stepwise-evidence/1';
export const MANIFEST = 'manifest.json';
export const SIGNATURE = 'manifest.sig';

/** The bundle's files, by role (the names are fixed so a verifier knows what each one is). */
export const FILES = {
  runbook: 'runbook.md',
  recording: 'recording.cast',
  audit: 'audit.jsonl',
  record: 'run.json',
  markdown: 'report.md',
  html: 'report.html',
} as const;

export interface ManifestFile {
  path: string;
  sha256: string;
  size: number;
}

export interface EvidenceManifest {
  schema: typeof EVIDENCE_SCHEMA;
  run: string;
  createdAt: string;
  /** The hash of the run's last audit event when the bundle was made. */
  chainHead: string | null;
  events: number;
  files: ManifestFile[];
  /** Present when the manifest is signed: the signature is SIGNATURE, over manifest.json's exact bytes. */
  signature?: { algorithm: 'Ed25519'; file: typeof SIGNATURE; publicKeyFingerprint: string; publicKey: string };
}

/**
 * The manifest's text: one file per line (`{"path":…,"sha256":…,"size":…}`), so a person can
 * feed it to `sha256sum -c` with a sed line (docs/audit.md).
 */
export function manifestText(m: EvidenceManifest): string {
  const { files, ...rest } = m;
  const top = Object.entries(rest).map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)}`);
  const list = files.map((f) => `    {"path":${JSON.stringify(f.path)},"sha256":"${f.sha256}","size":${f.size}}`).join(',\n');
  return `{\n${top.join(',\n')},\n  "files": [\n${list}\n  ]\n}\n`;
}

/** sha256 (hex) of a public key's DER (SubjectPublicKeyInfo): `openssl pkey -pubin -outform DER | sha256sum`. */
export function keyFingerprint(key: crypto.KeyObject): string {
  const pub = key.type === 'private' ? crypto.createPublicKey(key) : key;
  return sha256(pub.export({ type: 'spki', format: 'der' }));
}

/** The Ed25519 private key in a PEM file; anything else is a failure naming the file. */
export function loadSigningKey(file: string): Outcome<crypto.KeyObject> {
  let key: crypto.KeyObject;
  try {
    key = crypto.createPrivateKey(fs.readFileSync(file));
  } catch (e) {
    return { ok: false, error: failure('BAD_REQUEST', `cannot read the signing key ${file}: ${(e as Error).message}`) };
  }
  if (key.asymmetricKeyType !== 'ed25519') return { ok: false, error: failure('BAD_REQUEST', `the signing key ${file} is ${key.asymmetricKeyType ?? 'not an asymmetric key'}, not Ed25519`) };
  return { ok: true, value: key };
}

export interface EvidenceOptions {
  assets: PlayerAssets;
  signingKey?: crypto.KeyObject;
  now?: Date;
}

export interface Evidence {
  zip: Buffer;
  manifest: EvidenceManifest;
}

/** The bundle of one recorded run. A run not recorded here is a NOT_FOUND failure. */
export function buildEvidence(history: RunHistory, runId: string, o: EvidenceOptions): Outcome<Evidence> {
  const run = history.get(runId);
  if (!run) return { ok: false, error: failure('NOT_FOUND', `no run ${JSON.stringify(runId)}`) };
  // Until its end seals the recording into the chain, nothing in the bundle could prove the recording.
  if (run.status === 'running') return { ok: false, error: failure('BAD_REQUEST', `run ${runId} is still running: make its evidence bundle once it has ended`) };
  const report = history.report(runId);
  if (!report.ok) return report;
  const events = history.auditEvents(runId);
  const castFile = recordingFile(history.dataDir, run);
  const cast = castFile === undefined ? undefined : fs.readFileSync(castFile);
  const pinned = history.pinned(run);

  const files = new Map<string, Uint8Array>();
  const put = (name: string, body: string | Buffer): void => {
    files.set(name, typeof body === 'string' ? Buffer.from(body, 'utf8') : body);
  };
  if (pinned) put(FILES.runbook, pinned.source);
  if (cast) put(FILES.recording, cast);
  // A runbook that spans hosts: each other role's recording too (the first role's is the run's own).
  for (const r of (Array.isArray(run.options.roles) ? (run.options.roles as Array<{ role?: unknown; castPath?: unknown }>) : []).slice(1)) {
    if (typeof r.role !== 'string' || typeof r.castPath !== 'string') continue;
    const file = recordingFile(history.dataDir, { ...run, castPath: r.castPath });
    if (file) put(roleRecordingName(r.role), fs.readFileSync(file));
  }
  // Each line exactly as the chain hashes it plus its hash: canonical JSON (RFC 8785).
  put(FILES.audit, events.map((e) => canonical(e) + '\n').join(''));
  put(FILES.record, JSON.stringify({ run, blocks: history.blocks(runId), verdicts: history.verdicts(runId), approvals: history.approvals(runId) }, null, 2) + '\n');
  put(FILES.markdown, toMarkdown(report.value));
  put(FILES.html, toHtml({ report: report.value, events, cast: cast?.toString('utf8'), assets: o.assets }));

  const manifest: EvidenceManifest = {
    schema: EVIDENCE_SCHEMA,
    run: runId,
    createdAt: (o.now ?? new Date()).toISOString(),
    chainHead: events.at(-1)?.hash ?? null,
    events: events.length,
    files: [...files].map(([path, body]) => ({ path, sha256: sha256(Buffer.from(body)), size: body.length })),
    ...(o.signingKey
      ? {
          signature: {
            algorithm: 'Ed25519' as const,
            file: SIGNATURE,
            publicKeyFingerprint: keyFingerprint(o.signingKey),
            publicKey: crypto.createPublicKey(o.signingKey).export({ type: 'spki', format: 'pem' }).toString(),
          },
        }
      : {}),
  };
  const text = Buffer.from(manifestText(manifest), 'utf8');
  files.set(MANIFEST, text);
  if (o.signingKey) files.set(SIGNATURE, crypto.sign(null, text, o.signingKey));

  const mtime = new Date(manifest.createdAt);
  const zip = zipSync(Object.fromEntries([...files].map(([name, body]) => [name, [body, { mtime }]])), { level: 6 });
  return { ok: true, value: { zip: Buffer.from(zip), manifest } };
}
