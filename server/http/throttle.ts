// Failed authentications per client address: after a handful, each further failure doubles
// how long that address must wait before its next credential is even looked at. Tokens carry
// at least 128 bits, so guessing is hopeless anyway; this keeps it so for a token chosen badly
// and makes guessing show in the log (429s) instead of passing at thousands per second.
import net from 'node:net';

export interface ThrottleOptions {
  /** Failures allowed before the back-off starts (a mistyped token or two). */
  free?: number;
  /** The first wait; each failure after it doubles it. */
  baseMs?: number;
  maxMs?: number;
  /** An address with no failure for this long starts afresh. */
  forgetMs?: number;
  now?: () => number;
}

// A person mistypes or pastes a stale link a few times; a guesser needs millions of tries.
const FREE = 10;
const BASE_MS = 1000;
// A minute between guesses at most: a person locked out by a neighbour's guessing waits little.
const MAX_MS = 60_000;
const FORGET_MS = 15 * 60 * 1000;
// Bounds the table under a flood from many addresses (IPv6 gives an attacker plenty).
const MAX_ADDRESSES = 10_000;

interface State {
  failures: number;
  last: number;
  until: number;
}

/** The throttled unit: an IPv4 address, or an IPv6 /64 (one host usually holds a whole /64). */
export function clientKey(address: string | undefined): string {
  const a = (address ?? '').replace(/^::ffff:(?=\d+\.)/, '');
  if (net.isIPv6(a)) {
    const full = a.includes('::') ? expand(a) : a.split(':');
    return full.slice(0, 4).join(':') + '::/64';
  }
  return a || 'unknown';
}

function expand(a: string): string[] {
  const [head, tail] = a.split('::') as [string, string];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  return [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
}

export class FailureThrottle {
  private readonly byKey = new Map<string, State>();
  private readonly now: () => number;

  constructor(private readonly o: ThrottleOptions = {}) {
    this.now = o.now ?? Date.now;
  }

  /** Milliseconds `address` must still wait before a credential from it is checked; 0: go on. */
  waitMs(address: string | undefined): number {
    const s = this.byKey.get(clientKey(address));
    if (!s) return 0;
    return Math.max(0, s.until - this.now());
  }

  /** Counts a failed authentication from `address`. */
  fail(address: string | undefined): void {
    const key = clientKey(address);
    const t = this.now();
    let s = this.byKey.get(key);
    if (s && t - s.last > (this.o.forgetMs ?? FORGET_MS)) s = undefined;
    if (!s) {
      if (this.byKey.size >= MAX_ADDRESSES) this.byKey.delete(this.byKey.keys().next().value!);
      s = { failures: 0, last: t, until: 0 };
    }
    this.byKey.delete(key);
    this.byKey.set(key, s); // most recent last: the oldest is evicted first
    s.failures++;
    s.last = t;
    const over = s.failures - (this.o.free ?? FREE);
    if (over > 0) s.until = t + Math.min((this.o.baseMs ?? BASE_MS) * 2 ** Math.min(over - 1, 30), this.o.maxMs ?? MAX_MS);
  }
}
