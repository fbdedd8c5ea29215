// Run ids: `r` + UTC yyyymmddHHMMSS + `-` + 6 random base32 (RFC 4648, lower-case) chars.
// Lexical order is chronological to the second; URL-safe with no escaping.

import { randomBytes } from 'node:crypto';

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

export const RUN_ID_PATTERN = /^r\d{14}-[a-z2-7]{6}$/;

export function newRunId(now: Date = new Date()): string {
  const p2 = (n: number) => String(n).padStart(2, '0');
  const stamp =
    String(now.getUTCFullYear()).padStart(4, '0') +
    p2(now.getUTCMonth() + 1) +
    p2(now.getUTCDate()) +
    p2(now.getUTCHours()) +
    p2(now.getUTCMinutes()) +
    p2(now.getUTCSeconds());
  const bytes = randomBytes(6);
  let suffix = '';
  for (const b of bytes) suffix += BASE32[b & 31];
  return `r${stamp}-${suffix}`;
}

export function isRunId(s: string): boolean {
  return RUN_ID_PATTERN.test(s);
}
