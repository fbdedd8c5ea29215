// Ends what a revoked token still holds open. A websocket is authorised once, when it opens;
// this watch closes it when its token is revoked afterwards — by the API in this process or by
// `stepwise token revoke`, another process writing the same database, which cannot signal us.
// So the token table is polled: one indexed lookup per distinct token with an open socket.
import type { Disposable } from '../../common/disposable.ts';

// Revocation must end a socket within a second: polling twice as often leaves room for the
// lookup and the close itself. The cost is one primary-key read per token per tick.
export const REVOCATION_POLL_MS = 500;

export interface RevocationOptions {
  /** Whether a token id can no longer sign in (revoked, or gone from the table). */
  isRevoked: (tokenId: string) => boolean;
  /** Told when checking a token fails (the holders are kept; the next poll tries again). */
  onError?: (tokenId: string, err: unknown) => void;
  pollMs?: number;
}

export class RevocationWatch implements Disposable {
  private readonly holders = new Map<string, Set<() => void>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly o: RevocationOptions) {}

  /** `revoke` runs once if `tokenId` is revoked while the returned handle is not disposed. */
  watch(tokenId: string, revoke: () => void): Disposable {
    let set = this.holders.get(tokenId);
    if (!set) this.holders.set(tokenId, (set = new Set()));
    set.add(revoke);
    this.timer ??= setInterval(() => this.check(), this.o.pollMs ?? REVOCATION_POLL_MS).unref();
    return { dispose: () => this.forget(tokenId, revoke) };
  }

  /** How many holders are watched (for tests and the "nothing left behind" checks). */
  get size(): number {
    let n = 0;
    for (const s of this.holders.values()) n += s.size;
    return n;
  }

  /** One poll: every holder of a revoked token is told, then forgotten. */
  check(): void {
    for (const [tokenId, set] of [...this.holders]) {
      let revoked: boolean;
      try {
        revoked = this.o.isRevoked(tokenId);
      } catch (err) {
        // A locked or broken database: keep the sockets (the next tick tries again).
        this.o.onError?.(tokenId, err);
        continue;
      }
      if (!revoked) continue;
      this.holders.delete(tokenId);
      for (const revoke of set) revoke();
    }
    if (this.holders.size === 0) this.stop();
  }

  dispose(): void {
    this.holders.clear();
    this.stop();
  }

  private forget(tokenId: string, revoke: () => void): void {
    const set = this.holders.get(tokenId);
    if (!set) return;
    set.delete(revoke);
    if (set.size === 0) this.holders.delete(tokenId);
    if (this.holders.size === 0) this.stop();
  }

  private stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
