// Content-addressed copies of runbooks as they were run, so a run stays pinned to its text.
import fs from 'node:fs';
import path from 'node:path';
import { sha256 } from './chain.ts';

const HASH = /^[0-9a-f]{64}$/;

export function snapshotPath(dataDir: string, contentHash: string): string {
  if (!HASH.test(contentHash)) throw new Error(`not a content hash: ${contentHash}`);
  return path.join(dataDir, 'snapshots', `${contentHash}.md`);
}

/** Saves source under its hash; false when the source does not have that hash. */
export function saveSnapshot(dataDir: string, contentHash: string, source: string): boolean {
  if (sha256(source) !== contentHash) return false;
  const file = snapshotPath(dataDir, contentHash);
  if (fs.existsSync(file)) return true;
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.writeFileSync(file, source, { mode: 0o600 });
  return true;
}

export function loadSnapshot(dataDir: string, contentHash: string): string | undefined {
  try {
    const text = fs.readFileSync(snapshotPath(dataDir, contentHash), 'utf8');
    return sha256(text) === contentHash ? text : undefined;
  } catch {
    return undefined;
  }
}
