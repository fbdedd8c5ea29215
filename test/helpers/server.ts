// Starts the real server on 127.0.0.1:0 with a fresh data directory, for tests.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { serve, type RunningServer } from '../../server/http/server.ts';
import { createLogger } from '../../server/log.ts';

export interface TestServer extends RunningServer {
  token: string;
  dataDir: string;
  base: string;
  api(method: string, p: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; json: any; headers: Headers }>;
  stop(): Promise<void>;
}

export async function startTestServer(runbooksDir: string, token = 'test-token-' + Math.random().toString(36).slice(2)): Promise<TestServer> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-data-'));
  const srv = await serve({ host: '127.0.0.1', port: 0, token, runbooksDir, dataDir, log: createLogger(process.env.STEPWISE_TEST_LOG ?? 'silent') });
  const base = srv.url.replace(/\/$/, '');
  return {
    ...srv,
    token,
    dataDir,
    base,
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
