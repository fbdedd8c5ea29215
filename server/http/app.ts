// createApp(): the whole service as an express app plus its websocket gateway, without a port,
// so tests can drive it in-process; server.ts binds it to an address.
import crypto from 'node:crypto';
import path from 'node:path';
import compression from 'compression';
import { interruptOrphanedRuns, removeOrphanedSessionDirs } from '../run/orphans.ts';
import { labSessionDirs } from '../target/lab.ts';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { AppContext } from './context.ts';
import { apiRouter, sendFailure } from './api.ts';
import { fleetsRouter } from './fleets-api.ts';
import { Fleets, interruptOrphanedFleets } from '../run/fleet.ts';
import { pagesRouter } from './pages.ts';
import { livePages } from './live-pages.ts';
import { Gateway } from './gateway.ts';
import { Views } from './render.ts';
import { buildBundle, type Bundle } from './bundle.ts';
import { Auth, generateToken, type AuthOptions } from './auth.ts';
import { authenticate, signInRouter } from './guard.ts';
import { tokensRouter } from './tokens.ts';
import { classesRouter } from './classes-api.ts';
import { joinRouter } from './join.ts';
import { Classroom } from '../class/classroom.ts';
import { Users } from '../record/users.ts';
import { defaultUser } from '../run/runs.ts';
import { failure, formatDiagnostic } from '../errors.ts';
import { cachedCatalog } from '../runbook/catalog.ts';
import { RunStore } from '../record/store.ts';
import { AuditLog } from '../record/audit.ts';
import { Runs, type RunLimits } from '../run/runs.ts';
import { targetKinds, type TargetKind } from '../target/registry.ts';
import { inventoryPath, loadInventory, type Inventory } from '../target/inventory.ts';
import { createLogger, type Logger } from '../log.ts';
import type { Target } from '../target/target.ts';

export interface AppOptions {
  runbooksDir: string;
  dataDir: string;
  /** Generated when absent. */
  token?: string;
  /** The startup token's user name; default STEPWISE_USER or the OS user. */
  adminUser?: string;
  log?: Logger;
  /** How long a run nobody watches or uses keeps its session (default 10 min). */
  graceSeconds?: number;
  targets?: Record<string, TargetKind>;
  /**
   * Build the browser bundle with the hooks end-to-end tests read (window.__stepwise).
   * Default: the STEPWISE_TEST_HOOKS=1 environment variable (test/helpers/browser.ts sets it).
   */
  testHooks?: boolean;
  /** Session limits, the failed-sign-in throttle and the sign-in code lifetime (defaults in auth.ts's modules). */
  auth?: Pick<AuthOptions, 'sessions' | 'throttle' | 'codeTtlMs'>;
  /** How many runs may be live at once, per user, overall and on labs (defaults: RUN_LIMITS in runs.ts). */
  runLimits?: Partial<RunLimits>;
}

export interface StepwiseApp {
  app: express.Express;
  ctx: AppContext;
  gateway: Gateway;
  dispose(): void;
}

// A reload or a dropped connection has this long to come back to a running session.
const DEFAULT_GRACE_SECONDS = 600;
// Control requests are small; a runbook's variables fit easily.
const JSON_LIMIT = '64kb';
const JSON_LIMIT_BYTES = 64 * 1024;
// Hashed asset names change with their content, so a browser may keep one for good.
const IMMUTABLE = 'public, max-age=31536000, immutable';
// Pages and API answers carry live state (and tokens): never reused without asking.
const NO_STORE = 'no-store';

/** The inventory beside the runbooks (or STEPWISE_INVENTORY): its hosts become targets. One with errors is left out, logged. */
function serverInventory(runbooksDir: string, log: Logger): Inventory | undefined {
  const file = inventoryPath(undefined, runbooksDir);
  if (!file) return undefined;
  const inv = loadInventory(file);
  const errors = inv.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length) {
    log.warn('inventory has errors; its hosts are not offered', { file, first: formatDiagnostic(errors[0]!) });
    return undefined;
  }
  return inv;
}

export async function createApp(opts: AppOptions): Promise<StepwiseApp> {
  const log = opts.log ?? createLogger();
  const store = RunStore.open(opts.dataDir, (message) => log.warn('data folder permissions', { message }));
  const runbooksDir = path.resolve(opts.runbooksDir);
  const catalog = cachedCatalog(runbooksDir); // parsed again only after a runbook changed
  const inventory = serverInventory(runbooksDir, log);
  const targets = opts.targets ?? targetKinds(inventory);
  const audit = new AuditLog(store, opts.dataDir);
  // Runs of a process that died (this server's last life, or a killed CLI run) end interrupted.
  const interrupted = interruptOrphanedRuns(store, audit, log);
  if (interrupted.length) log.warn('runs interrupted by a previous stop', { runs: interrupted });
  removeOrphanedSessionDirs();
  for (const d of labSessionDirs()) removeOrphanedSessionDirs(d); // a lab's host-1 sessions
  const runs = new Runs({ catalog, store, audit, dataDir: opts.dataDir, log, targets, limits: opts.runLimits });
  // Fleets of a process that died end interrupted (their runs are interrupted above).
  interruptOrphanedFleets(store);
  const fleets = new Fleets({ runs, store, catalog, inventory: () => inventory, log, targetIds: () => Object.keys(targets) });
  // Classes (server/class/): made before Auth, whose seat tokens it resolves.
  const classes = new Classroom({ store, runs, audit, catalog, log, targetIds: () => Object.keys(targets), inventory: () => inventory });
  const token = opts.token ?? generateToken();
  const users = new Users(store.database);
  const auth = new Auth({ token, adminUser: opts.adminUser ?? defaultUser(), users, seats: { principal: (t) => classes.seatPrincipal(t), live: (id) => classes.seatLive(id) }, ...opts.auth });
  const ctx: AppContext = {
    token,
    auth,
    users,
    catalog,
    store,
    audit,
    runs,
    log,
    dataDir: opts.dataDir,
    targetIds: Object.keys(targets),
    targets,
    fleets,
    classes,
  };
  runs.reapIdle((opts.graceSeconds ?? DEFAULT_GRACE_SECONDS) * 1000);
  const bundle = await buildBundle({ testHooks: opts.testHooks ?? process.env.STEPWISE_TEST_HOOKS === '1' });
  const views = new Views(bundle);
  const gateway = new Gateway(ctx);

  const app = express();
  app.disable('x-powered-by');
  // One resource, one URL: `/API/tokens` and `/runs/` are not `/api/tokens` and `/runs`.
  app.set('case sensitive routing', true);
  app.set('strict routing', true);
  app.set('query parser', 'simple');
  app.use((_req, res, next) => {
    // 'wasm-unsafe-eval' lets the report page's asciinema player compile its WebAssembly
    // terminal emulator; it allows WebAssembly compilation only, not eval() or inline scripts.
    // Styles: our stylesheets, and <style> elements with this response's nonce (xterm.js makes
    // some at run time: static/style-nonce.ts); no inline style attributes.
    const nonce = crypto.randomBytes(16).toString('base64url');
    res.locals.cspNonce = nonce;
    res.set({
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'X-Frame-Options': 'DENY',
      'Cache-Control': NO_STORE,
      'Content-Security-Policy': `default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'nonce-${nonce}'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'`,
    });
    next();
  });
  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/static/:name', serveAsset(bundle));
  // Pages and API answers are compressed as they are sent; the bundle was compressed once.
  app.use(compression());
  app.use(signInRouter(ctx, views));
  // A seat's join link signs its browser in (like a sign-in link), so it comes before the guard.
  app.use(joinRouter(ctx, views));
  app.use(authenticate(ctx, views));
  // fleetsRouter before apiRouter: the latter answers every path it does not know with a 404.
  app.use('/api', refuseDeclaredTooLarge, express.json({ limit: JSON_LIMIT, strict: true }), tokensRouter(ctx), classesRouter(ctx, classes), fleetsRouter(ctx, fleets), apiRouter(ctx));
  app.use(pagesRouter(ctx, views));
  // The fleet and class dashboards, and their live matrices' sources (gateway /ws/fleets|classes/ID).
  app.use(livePages(ctx, views, gateway, { fleets, classes }));
  app.use('/api', (req, res) => sendFailure(res, failure('NOT_FOUND', `no API route ${req.method} ${req.baseUrl}${req.path}`)));
  app.use((req, res) => {
    const heading = 'Page not found';
    res.status(404).type('html').send(views.render('not-found', { title: heading, heading, message: `There is no page at ${req.path}.` }, res.locals));
  });
  app.use((err: Error & { status?: number; type?: string }, _req: Request, res: Response, _next: NextFunction) => {
    if (err.type === 'entity.too.large') return sendFailure(res, failure('PAYLOAD_TOO_LARGE', `request body over ${JSON_LIMIT}`));
    if (err.status && err.status < 500) return sendFailure(res, failure('BAD_REQUEST', err.message));
    log.error('request failed', { error: err.message, stack: err.stack });
    sendFailure(res, failure('INTERNAL', 'internal error'));
  });

  return {
    app,
    ctx,
    gateway,
    dispose() {
      gateway.dispose();
      fleets.dispose();
      classes.dispose();
      runs.dispose();
      store.close();
    },
  };
}

/**
 * The bundle's files by their hashed names, from memory: gzip-compressed when the browser
 * takes it, cacheable for a year. Any other /static path is a 404 (no source is served).
 */
function serveAsset(bundle: Bundle) {
  return (req: Request, res: Response) => {
    const asset = bundle.assets.get(`/static/${req.params.name}`);
    res.vary('Accept-Encoding');
    if (!asset) return res.status(404).type('text/plain').send('no such asset\n');
    const gzip = req.acceptsEncodings('gzip', 'identity') === 'gzip';
    res.set({ 'Cache-Control': IMMUTABLE, 'Content-Type': `${asset.type}; charset=utf-8` });
    if (gzip) res.set('Content-Encoding', 'gzip');
    res.send(gzip ? asset.gzip : asset.body);
  };
}

/**
 * A body declared over the limit is refused at once, and the connection closed: the JSON
 * parser would otherwise read (and discard) all of it before answering 413.
 */
function refuseDeclaredTooLarge(req: Request, res: Response, next: NextFunction) {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > JSON_LIMIT_BYTES) {
    res.set('Connection', 'close');
    return sendFailure(res, failure('PAYLOAD_TOO_LARGE', `request body over ${JSON_LIMIT}`));
  }
  next();
}
