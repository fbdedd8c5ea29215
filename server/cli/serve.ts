// `stepwise serve`: starts the web service and prints the URL to open (with a one-time
// sign-in code when printing to a terminal).
import { serve } from '../http/server.ts';
import { dataDir, runbooksDir } from './config.ts';
import { SIGNIN_CODE_TTL_MS } from '../http/signin-codes.ts';
import type { RunLimits } from '../run/runs.ts';

export async function serveCommand(
  o: { host?: string; port?: string; runbooks?: string; data?: string },
  out: (s: string) => void,
  toTerminal = process.stdout.isTTY === true,
): Promise<number> {
  const host = o.host ?? process.env.HOST ?? '127.0.0.1';
  const portText = o.port ?? process.env.PORT ?? '7681';
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) {
    out(`stepwise serve: --port ${JSON.stringify(portText)} is not a port number`);
    return 2;
  }
  const grace = process.env.STEPWISE_GRACE_SECONDS;
  if (grace !== undefined && !/^\d{1,7}$/.test(grace)) {
    out(`stepwise serve: STEPWISE_GRACE_SECONDS=${JSON.stringify(grace)} is not a number of seconds`);
    return 2;
  }
  const runLimits: Partial<RunLimits> = {};
  for (const [name, key] of [['STEPWISE_MAX_RUNS_PER_USER', 'perUser'], ['STEPWISE_MAX_RUNS', 'total'], ['STEPWISE_MAX_LABS', 'labs']] as const) {
    const v = process.env[name];
    if (v === undefined) continue;
    if (!/^\d{1,6}$/.test(v)) {
      out(`stepwise serve: ${name}=${JSON.stringify(v)} is not a number of runs`);
      return 2;
    }
    runLimits[key] = Number(v);
  }
  let srv;
  try {
    srv = await serve({ host, port: Number(portText), token: process.env.STEPWISE_TOKEN || undefined, runLimits,
      ...(grace !== undefined ? { graceSeconds: Number(grace) } : {}), runbooksDir: runbooksDir(o.runbooks), dataDir: dataDir(o.data) });
  } catch (e) {
    out(`stepwise serve: ${(e as Error).message}`);
    return 2;
  }
  out(`Stepwise is serving ${srv.ctx.catalog().entries.length} runbooks from ${runbooksDir(o.runbooks)}`);
  // The token is never printed: STEPWISE_TOKEN's owner has it, and a log keeps what it is
  // given. A terminal gets a one-time sign-in code instead (dead once used, or after 15 min).
  if (toTerminal) {
    out(`Open ${srv.url}?code=${srv.ctx.auth.adminSignInCode()}`);
    out(`(a one-time sign-in link for ${srv.ctx.auth.adminUser}, valid ${SIGNIN_CODE_TTL_MS / 60_000} minutes; later, sign in with a token: stepwise token create --user NAME --role admin)`);
  } else {
    out(`Open ${srv.url} and sign in with ${process.env.STEPWISE_TOKEN ? 'STEPWISE_TOKEN' : 'a token'} (stepwise token create --user NAME --role admin makes one; a sign-in link is printed only to a terminal)`);
  }
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await srv.close();
  return 0;
}
