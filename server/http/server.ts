// Binds the app to an address: 127.0.0.1 by default; a non-loopback address only with an
// explicitly configured token. A configured token shorter than 128 bits is refused.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp, type AppOptions, type StepwiseApp } from './app.ts';
import { weakTokenReason } from './auth.ts';

export interface ServeOptions extends AppOptions {
  host: string;
  port: number;
}

export interface RunningServer extends StepwiseApp {
  server: http.Server;
  url: string;
  close(): Promise<void>;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export async function serve(opts: ServeOptions): Promise<RunningServer> {
  if (!isLoopback(opts.host) && !opts.token) {
    throw new Error(`refusing to listen on ${opts.host} without an explicit token: set STEPWISE_TOKEN (or bind to 127.0.0.1)`);
  }
  if (opts.token !== undefined) {
    const weak = weakTokenReason(opts.token);
    if (weak) throw new Error(`refusing a weak STEPWISE_TOKEN: ${weak}`);
  }
  const sw = await createApp(opts);
  const server = http.createServer(sw.app);
  sw.gateway.attach(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    ...sw,
    server,
    url: `http://${host}:${addr.port}/`,
    async close() {
      sw.dispose();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
