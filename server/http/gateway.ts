// The websocket gateway: authenticates upgrades (token + Origin) and hands each connection
// to a TerminalStream (binary frames for bytes, JSON text frames for control and events).
// A connection lives as long as its session or token: ending either closes it (RevocationWatch).
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AppContext } from './context.ts';
import { originAllowed } from './auth.ts';
import { httpStatus } from '../errors.ts';
import { TerminalStream, type StreamRole } from './terminal-stream.ts';
import type { Run } from '../run/run.ts';
import type { Disposable } from '../../common/disposable.ts';
import { STARTUP_TOKEN_ID, type Principal } from '../record/users.ts';
import { RevocationWatch } from './revocation.ts';
import { SEAT_TOKEN_PREFIX } from '../class/classroom.ts';
import type { ServerMessage } from '../../common/protocol.ts';
import { requestTranslator } from './language.ts';
import { MatrixFeeds, type MatrixSource } from './matrix-feed.ts';

// Keystrokes and pastes: a large paste is the biggest honest input frame.
const MAX_FRAME_BYTES = 1024 * 1024;

const PATH = /^\/ws\/runs\/([A-Za-z0-9_-]{1,64})$/;
// The live matrices of the fleet and class pages (server/http/matrix-feed.ts).
const MATRIX_PATH = /^\/ws\/(fleets|classes)\/([A-Za-z0-9_-]{1,64})$/;

/** Close code for a connection whose token was revoked: 1008, policy violation (RFC 6455). */
export const CLOSE_REVOKED = 1008;
// Sessions and tokens share one RevocationWatch; token ids never start with this.
const SESSION_PREFIX = 'session:';

export class Gateway implements Disposable {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  private seq = 0;
  private open = 0;
  private readonly revocations: RevocationWatch;
  /** The fleet and class pages' live matrices: server/http/live-pages.ts registers their sources. */
  readonly matrices: MatrixFeeds;

  constructor(private readonly ctx: AppContext) {
    this.revocations = new RevocationWatch({
      // A session counts as used while its socket is open (it does not idle out under a terminal).
      isRevoked: (id) => (id.startsWith(SESSION_PREFIX) ? !ctx.auth.sessions.use(id.slice(SESSION_PREFIX.length)) : id.startsWith(SEAT_TOKEN_PREFIX) ? !ctx.classes.seatLive(id) : ctx.users.getToken(id)?.revokedAt !== null),
      onError: (tokenId, err) => ctx.log.warn('token revocation check failed', { tokenId, error: (err as Error).message }),
    });
    this.matrices = new MatrixFeeds(ctx.log);
  }

  attach(server: Server): void {
    server.on('upgrade', (req, socket, head) => {
      // An exception here would have no caller to catch it: it would end the process.
      try {
        this.upgrade(req, socket, head);
      } catch (err) {
        this.ctx.log.error('websocket upgrade failed', { error: (err as Error).message, stack: (err as Error).stack });
        socket.destroy();
      }
    });
  }

  get connections(): number {
    return this.open;
  }

  dispose(): void {
    this.revocations.dispose();
    this.matrices.dispose();
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Node's HTTP server lets go of an upgrading socket: until ws owns it, an error on it (the
    // client resets while we write a refusal) has no listener and would end the process.
    const onSocketError = (err: Error) => this.ctx.log.info('websocket upgrade: socket error', { error: err.message });
    socket.on('error', onSocketError);
    let url: URL | undefined;
    // Logged by path only: the query may carry a token.
    const refuse = (status: number, text: string) => {
      this.ctx.log.warn('websocket refused', { path: url?.pathname ?? null, status, reason: text, origin: req.headers.origin ?? null });
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
    };
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      return refuse(httpStatus('BAD_REQUEST'), 'Bad request target');
    }
    if (!originAllowed(req)) return refuse(httpStatus('FORBIDDEN'), 'Forbidden origin');
    if (url.searchParams.has('token') || url.searchParams.has('code')) return refuse(httpStatus('BAD_REQUEST'), 'No credential in the URL');
    const found = this.ctx.auth.principalOf(req);
    if (!found.ok && found.reason === 'throttled') return refuse(httpStatus('THROTTLED'), 'Too many failed sign-ins');
    if (!found.ok) return refuse(httpStatus('UNAUTHORIZED'), 'Unauthorized');
    const principal = found.principal;
    const mm = MATRIX_PATH.exec(url.pathname);
    if (mm) {
      // The resolver checks the role and, for a class, that it is this trainer's (or an admin).
      const source = this.matrices.resolve(mm[1]!, mm[2]!, principal);
      if (!source.ok) return refuse(httpStatus(source.error.code), source.error.message);
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        socket.off('error', onSocketError);
        this.connectMatrix(ws, mm[1]!, mm[2]!, source.value, principal);
      });
      return;
    }
    const m = PATH.exec(url.pathname);
    const run = m ? this.ctx.runs.get(m[1]) : undefined;
    if (!run) return refuse(httpStatus('NOT_FOUND'), 'No such live run');
    // A class seat attaches to its own run only; a class run's keyboard is its trainee's, its
    // trainer's or an admin's (who has it now is the class's to say: take-over), others watch.
    if (principal.role === 'trainee' && !this.ctx.classes.scopeOf(principal)?.runs.has(run.id)) return refuse(httpStatus('NOT_FOUND'), 'No such live run');
    const classRun = this.ctx.classes.runSeat(run.id) !== undefined;
    // A viewer's token, or ?observe=1, joins read-only.
    const role: StreamRole = principal.role === 'viewer' || url.searchParams.get('observe') === '1' || (classRun && !this.ctx.classes.mayHoldKeyboard(run.id, principal)) ? 'viewer' : 'operator';
    // A runbook that spans hosts: ?terminal=ROLE attaches that role's terminal (default the first; not `role`, which names access).
    const terminal = url.searchParams.get('terminal') ?? undefined;
    if (terminal !== undefined && !run.terminal(terminal)) return refuse(httpStatus('NOT_FOUND'), `No terminal of role ${JSON.stringify(terminal.slice(0, 40))} in this run`);
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      socket.off('error', onSocketError); // the WebSocket's own error handler takes over
      this.connect(ws, run, role, principal, req, terminal);
    });
  }

  /** A matrix watcher: it only reads (anything it sends is ignored); it lives as long as its session or token. */
  private connectMatrix(ws: WebSocket, kind: string, id: string, source: MatrixSource, principal: Principal): void {
    this.open++;
    const attached = this.matrices.attach(kind, id, source, ws);
    const watchId = principal.session !== undefined ? SESSION_PREFIX + principal.session : principal.tokenId === STARTUP_TOKEN_ID ? undefined : principal.tokenId;
    const watched =
      watchId === undefined
        ? undefined
        : this.revocations.watch(watchId, () => {
            attached.dispose();
            ws.close(CLOSE_REVOKED, principal.session !== undefined ? 'session ended' : 'token revoked');
          });
    ws.on('close', () => {
      this.open--;
      watched?.dispose();
      attached.dispose();
    });
    ws.on('error', (err) => this.ctx.log.warn('websocket error', { matrix: `${kind}/${id}`, error: err.message }));
  }

  private connect(ws: WebSocket, run: Run, role: StreamRole, principal: Principal, req: IncomingMessage, terminal?: string): void {
    this.open++;
    const stream = new TerminalStream(ws, run, role, `ws-${++this.seq}`, this.ctx.log, requestTranslator(req), terminal);
    // A class run: keystrokes only from whoever holds the keyboard; the take-over state and the
    // class's messages (those sent before too, for a late joiner) reach this socket.
    let classFeed: Disposable | undefined;
    if (this.ctx.classes.runSeat(run.id)) {
      stream.inputGate = () => this.ctx.classes.mayType(run.id, principal) === true;
      const send = (m: ServerMessage) => {
        if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(m));
      };
      this.ctx.classes.greeting(run.id).forEach(send);
      classFeed = this.ctx.classes.subscribeRun(run.id, send);
    }
    // A session socket lives as long as its session (sign-out, expiry, its token revoked); a
    // bearer socket as long as its token. The startup token lives as long as the process.
    const watchId = principal.session !== undefined ? SESSION_PREFIX + principal.session : principal.tokenId === STARTUP_TOKEN_ID ? undefined : principal.tokenId;
    const watched =
      watchId === undefined
        ? undefined
        : this.revocations.watch(watchId, () => {
            this.ctx.log.info('websocket closed: session ended or token revoked', { runId: run.id, user: principal.user, tokenId: principal.tokenId });
            ws.removeAllListeners('message'); // not one more keystroke, even before the close handshake ends
            stream.dispose();
            ws.close(CLOSE_REVOKED, principal.session !== undefined ? 'session ended' : 'token revoked');
          });
    ws.on('close', () => {
      this.open--;
      watched?.dispose();
      classFeed?.dispose();
      stream.dispose();
    });
    ws.on('error', (err) => this.ctx.log.warn('websocket error', { runId: run.id, error: err.message }));
  }
}
