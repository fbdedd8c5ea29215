// The live matrix feed behind the fleet and class pages: a change stream (a fleet's, a
// class's) becomes a snapshot for each new socket, then batched diffs (common/matrix.ts).
// One feed per watched thing, shared by every socket watching it, so 10 tabs on one class cost
// one snapshot per batch; a burst of changes (30 trainees passing a step at once, 50 hosts
// starting) becomes one diff at most every FLUSH_INTERVAL_MS.
import type { WebSocket } from 'ws';
import type { Disposable } from '../../common/disposable.ts';
import type { Outcome } from '../../common/outcome.ts';
import { diffMatrix, type MatrixMessage, type MatrixSnapshot } from '../../common/matrix.ts';
import { failure } from '../errors.ts';
import type { Principal } from '../record/users.ts';
import type { Logger } from '../log.ts';

/** What a feed reads: the matrix as it is now, and a signal when it may have changed. */
export interface MatrixSource {
  snapshot(): MatrixSnapshot;
  /** Calls `changed` after anything the matrix shows may have changed (it may be called often). */
  subscribe(changed: () => void): Disposable;
  /** Re-read this often even when nothing signalled (state that moves with time, like "stuck"). */
  pollMs?: number;
}

/** The kinds of matrix the gateway serves at /ws/<kind>/<id>. */
export const MATRIX_KINDS = ['fleets', 'classes'] as const;
export type MatrixKind = (typeof MATRIX_KINDS)[number];

/** Finds the source for an id, or refuses (NOT_FOUND, FORBIDDEN: the role and the class are checked here). */
export type MatrixResolver = (id: string, principal: Principal) => Outcome<MatrixSource>;

// At most this many updates a second reach a page (4): a dashboard of 50 rows stays smooth
// and a burst of changes becomes one diff.
export const FLUSH_INTERVAL_MS = 250;
// The first change after a quiet spell waits this long for the rest of its burst.
const GATHER_MS = 40;
// A socket with this much unsent is skipped, then sent a whole snapshot once it drained: a
// slow tab never piles up diffs it would apply late.
const SOCKET_BEHIND_BYTES = 256 * 1024;

export interface MatrixClient {
  send(text: string): void;
  /** Bytes queued and not yet sent (ws's bufferedAmount). */
  readonly buffered: number;
}

export class MatrixFeed implements Disposable {
  private last: MatrixSnapshot;
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private poll: NodeJS.Timeout | undefined;
  private lastFlush = 0;
  private readonly clients = new Map<MatrixClient, { behind: boolean }>();
  private readonly sub: Disposable;
  private disposed = false;
  /** Flushes done and diffs sent, for the bench and tests. */
  readonly stats = { flushes: 0, diffs: 0 };

  constructor(
    private readonly source: MatrixSource,
    private readonly log?: Logger,
    private readonly intervalMs = FLUSH_INTERVAL_MS,
    /** Called once the last client left (the registry forgets the feed). */
    private readonly onIdle?: () => void,
  ) {
    this.last = source.snapshot();
    this.sub = source.subscribe(() => this.changed());
    if (source.pollMs) this.poll = setInterval(() => this.changed(), source.pollMs);
  }

  get size(): number {
    return this.clients.size;
  }

  /** A new watcher: the whole matrix now, then diffs. The returned disposable removes it. */
  add(client: MatrixClient): Disposable {
    this.clients.set(client, { behind: false });
    this.sendTo(client, { type: 'matrix', seq: this.seq, matrix: this.last });
    return {
      dispose: () => {
        if (!this.clients.delete(client) || this.clients.size) return;
        this.onIdle?.();
      },
    };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    clearTimeout(this.timer);
    clearInterval(this.poll);
    this.sub.dispose();
    this.clients.clear();
  }

  /** Something may have changed: flush soon, but never sooner than intervalMs after the last. */
  changed(): void {
    if (this.disposed || this.timer) return;
    const wait = Math.max(GATHER_MS, this.lastFlush + this.intervalMs - Date.now());
    this.timer = setTimeout(() => this.flush(), wait);
  }

  /** Reads the source and sends what changed (now; the timer normally calls it). */
  flush(): void {
    this.timer = undefined;
    if (this.disposed) return;
    this.lastFlush = Date.now();
    this.stats.flushes++;
    let next: MatrixSnapshot;
    try {
      next = this.source.snapshot();
    } catch (err) {
      // The thing watched cannot be read (its record is gone): the pages say so; a later change tries again.
      this.log?.warn('matrix feed: snapshot failed', { error: (err as Error).message });
      for (const client of this.clients.keys()) this.sendTo(client, { type: 'matrix-error', code: 'NOT_FOUND', message: (err as Error).message });
      return;
    }
    const d = diffMatrix(this.last, next, this.seq + 1);
    this.last = next;
    if (d) {
      this.seq = d.seq;
      this.stats.diffs++;
    }
    for (const [client, state] of this.clients) {
      if (client.buffered > SOCKET_BEHIND_BYTES) {
        state.behind = true;
        continue;
      }
      if (state.behind) {
        state.behind = false;
        this.sendTo(client, { type: 'matrix', seq: this.seq, matrix: next });
      } else if (d) {
        this.sendTo(client, d);
      }
    }
    // A client left behind is caught up by a later flush even when nothing changes meanwhile.
    if ([...this.clients.values()].some((s) => s.behind)) this.changed();
  }

  private sendTo(client: MatrixClient, m: MatrixMessage): void {
    try {
      client.send(JSON.stringify(m));
    } catch (err) {
      this.log?.info('matrix feed: send failed', { error: (err as Error).message });
    }
  }
}

/** The feeds of every kind, by id, made on the first watcher and dropped after the last. */
export class MatrixFeeds implements Disposable {
  private readonly resolvers = new Map<MatrixKind, MatrixResolver>();
  private readonly feeds = new Map<string, { feed: MatrixFeed; source: MatrixSource }>();

  constructor(
    private readonly log?: Logger,
    private readonly intervalMs = FLUSH_INTERVAL_MS,
  ) {}

  /** Who serves a kind (server/http/live-pages.ts registers the fleet and class sources). */
  register(kind: MatrixKind, resolver: MatrixResolver): void {
    this.resolvers.set(kind, resolver);
  }

  /** The source for `kind/id` if this principal may watch it. */
  resolve(kind: string, id: string, principal: Principal): Outcome<MatrixSource> {
    const resolver = this.resolvers.get(kind as MatrixKind);
    if (!resolver) return { ok: false, error: failure('NOT_FOUND', `no live matrix of ${kind}`) };
    return resolver(id, principal);
  }

  /** Attaches a socket to the feed of `kind/id` (made now if nobody watches it yet). */
  attach(kind: string, id: string, source: MatrixSource, ws: WebSocket): Disposable {
    const key = `${kind}/${id}`;
    let entry = this.feeds.get(key);
    if (!entry) {
      const feed: MatrixFeed = new MatrixFeed(source, this.log, this.intervalMs, () => {
        if (this.feeds.get(key)?.feed === feed) this.feeds.delete(key);
        feed.dispose();
      });
      entry = { feed, source };
      this.feeds.set(key, entry);
    }
    return entry.feed.add({
      send: (text) => {
        if (ws.readyState === ws.OPEN) ws.send(text);
      },
      get buffered() {
        return ws.bufferedAmount;
      },
    });
  }

  /** The feed of `kind/id` while someone watches it (tests, the bench). */
  feed(kind: MatrixKind, id: string): MatrixFeed | undefined {
    return this.feeds.get(`${kind}/${id}`)?.feed;
  }

  dispose(): void {
    for (const { feed } of this.feeds.values()) feed.dispose();
    this.feeds.clear();
  }
}
