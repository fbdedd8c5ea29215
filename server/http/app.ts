// createApp(): the whole service as an express app plus its websocket gateway, without a port,
// so tests can drive it in-process; server.ts binds it to an address.
import path from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { AppContext } from './context.ts';
import { apiRouter, sendFailure } from './api.ts';
import { pagesRouter } from './pages.ts';
import { Gateway } from './gateway.ts';
import { Views } from './render.ts';
import { buildBundle } from './bundle.ts';
import { authCookie, credentialOf, generateToken, originAllowed, tokenMatches } from './auth.ts';
import { failure } from '../errors.ts';
import { loadCatalog } from '../runbook/catalog.ts';
import { RunStore } from '../record/store.ts';
import { AuditLog } from '../record/audit.ts';
import { Runs } from '../run/runs.ts';
import { targetKinds, type TargetKind } from '../target/registry.ts';
import { createLogger, type Logger } from '../log.ts';
import type { Target } from '../target/target.ts';

export interface AppOptions {
  runbooksDir: string;
  dataDir: string;
  /** Generated when absent. */
  token?: string;
  log?: Logger;
  targets?: Record<string, TargetKind>;
}

export interface StepwiseApp {
  app: express.Express;
  ctx: AppContext;
  gateway: Gateway;
  dispose(): void;
}

// Control requests are small; a runbook's variables fit easily.
const JSON_LIMIT = '64kb';

export async function createApp(opts: AppOptions): Promise<StepwiseApp> {
  const log = opts.log ?? createLogger();
  const store = RunStore.open(opts.dataDir);
  const interrupted = store.markInterrupted();
  if (interrupted) log.warn('runs interrupted by a previous stop', { count: interrupted });
  const runbooksDir = path.resolve(opts.runbooksDir);
  const catalog = () => loadCatalog(runbooksDir);
  const targets = opts.targets ?? targetKinds();
  const audit = new AuditLog(store, opts.dataDir);
  const runs = new Runs({ catalog, store, audit, dataDir: opts.dataDir, log, targets });
  const ctx: AppContext = {
    token: opts.token ?? generateToken(),
    catalog,
    store,
    audit,
    runs,
    log,
    dataDir: opts.dataDir,
    targetIds: Object.keys(targets),
    targets,
  };
  const views = new Views();
  const bundle = await buildBundle();
  const gateway = new Gateway(ctx);

  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use((_req, res, next) => {
    // 'wasm-unsafe-eval' lets the report page's asciinema player compile its WebAssembly
    // terminal emulator; it allows WebAssembly compilation only, not eval() or inline scripts.
    res.set({
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'X-Frame-Options': 'DENY',
      'Content-Security-Policy': "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'",
    });
    next();
  });
  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/static/app.js', (_req, res) => {
    res.type('application/javascript').send(bundle.js);
  });
  app.get('/static/app.css', (_req, res) => {
    res.type('text/css').send(bundle.css);
  });
  app.use('/static', express.static(path.resolve(import.meta.dirname, '../../static'), { index: false }));
  app.use(authenticate(ctx, views));
  app.use('/api', express.json({ limit: JSON_LIMIT, strict: true }), apiRouter(ctx));
  app.use(pagesRouter(ctx, views));
  app.use((err: Error & { status?: number; type?: string }, _req: Request, res: Response, _next: NextFunction) => {
    if (err.type === 'entity.too.large') return sendFailure(res, failure('PAYLOAD_TOO_LARGE', `request body over ${JSON_LIMIT}`));
    if (err.status && err.status < 500) return sendFailure(res, failure('BAD_REQUEST', err.message));
    log.error('request failed', { error: err.message, stack: err.stack });
    res.status(500).json({ error: { code: 'INTERNAL', message: 'internal error' } });
  });

  return {
    app,
    ctx,
    gateway,
    dispose() {
      gateway.dispose();
      runs.dispose();
      store.close();
    },
  };
}

/**
 * Every route below this needs the token: a bearer header, the cookie, or `?token=` once
 * (which sets the cookie and redirects to the same URL without it). A cookie alone does not
 * authorise a state-changing request from another origin or a plain form post.
 */
function authenticate(ctx: AppContext, views: Views) {
  return (req: Request, res: Response, next: NextFunction) => {
    const url = new URL(req.originalUrl, 'http://localhost');
    const cred = credentialOf(req, url);
    const isApi = url.pathname.startsWith('/api/');
    if (!tokenMatches(cred?.token, ctx.token)) {
      if (isApi) return sendFailure(res, failure('UNAUTHORIZED', 'a valid token is required (Authorization: Bearer <token>)'));
      return res.status(401).type('html').send(views.render('login', { wrong: cred !== undefined, next: url.pathname }));
    }
    if (cred!.via === 'query') {
      res.set('Set-Cookie', authCookie(ctx.token));
      if (req.method === 'GET' && !isApi) {
        url.searchParams.delete('token');
        return res.redirect(303, url.pathname + url.search);
      }
    }
    const changes = !['GET', 'HEAD', 'OPTIONS'].includes(req.method);
    if (changes && cred!.via === 'cookie') {
      if (!originAllowed(req)) return sendFailure(res, failure('FORBIDDEN', 'cross-origin request refused'));
      if (!req.is('application/json')) return sendFailure(res, failure('FORBIDDEN', 'state-changing requests must be JSON'));
    }
    next();
  };
}
