// Starts the real server on 127.0.0.1:0 with a fresh data directory, for tests.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { serve, type RunningServer, type ServeOptions } from '../../server/http/server.ts';
import { createLogger } from '../../server/log.ts';

export interface TestServer extends RunningServer {
  token: string;
  dataDir: string;
  base: string;
  /** A one-time sign-in URL for the built-in admin (what `stepwise serve` prints to a terminal), opening `p`. */
  signInUrl(p?: string): string;
  api(method: string, p: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; json: any; headers: Headers }>;
  stop(): Promise<void>;
}

export async function startTestServer(runbooksDir: string, token = 'test-token-' + crypto.randomBytes(18).toString('base64url'), opts: Partial<ServeOptions> = {}): Promise<TestServer> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-data-'));
  const srv = await serve({ host: '127.0.0.1', port: 0, token, runbooksDir, dataDir, log: createLogger(process.env.STEPWISE_TEST_LOG ?? 'silent'), ...opts });
  const base = srv.url.replace(/\/$/, '');
  return {
    ...srv,
    token,
    dataDir,
    base,
    signInUrl(p = '/') {
      return `${base}${p}${p.includes('?') ? '&' : '?'}code=${srv.ctx.auth.adminSignInCode()}`;
    },
    async api(method, p, body, headers = {}) {
      const res = await fetch(base + p, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
        redirect: 'manual',
      });
      const text = await res.text();
      let json: unknown = text;
      try {
        json = JSON.parse(text);
      } catch {
        /* not JSON */
      }
      return { status: res.status, json, headers: res.headers };
    },
    async stop() {
      await srv.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
