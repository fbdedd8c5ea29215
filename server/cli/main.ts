// The `stepwise` command line: dispatches to one module per sub-command.
import { parseArgs } from 'node:util';
import { serveCommand } from './serve.ts';
import { validateCommand } from './validate.ts';
import { listCommand } from './list.ts';
import { runCommand } from './run.ts';
import { reportCommand, runsCommand } from './report.ts';
import { auditCommand } from './audit.ts';
import { labCommand } from './lab.ts';
import { hostsCommand } from './hosts.ts';
import { tokenCommand } from './token.ts';
import { evidenceCommand } from './evidence.ts';
import { approveCommand } from './approve.ts';
import { rollbackCommand } from './rollback.ts';
import { dataDir } from './config.ts';
import { reapOrphans } from './orphans.ts';
import { langFromEnv, translator } from '../../common/i18n/index.ts';

// The help text is one catalog message (cli.main.usage), in the reader's language.

export async function main(argv: string[], out: (s: string) => void = (s) => console.log(s)): Promise<number> {
  const [cmd, ...rest] = argv;
  // main's own texts follow --lang (wherever it stands), else LC_ALL, LC_MESSAGES, LANG.
  const tr = translator(langFromEnv(flag(rest, 'lang'), process.env));
  const usage = tr.t('cli.main.usage');
  // Verifying a bundle reads one file and nothing of a data folder (it may run where there is none).
  const offline = cmd === 'evidence' && rest[0] === 'verify';
  if (cmd !== undefined && !offline && !['help', '--help', '-h'].includes(cmd)) await reapOrphans(dataDir(flag(rest, 'data')), { labs: cmd !== 'lab' });
  try {
    switch (cmd) {
      case 'serve': {
        const { values } = parseArgs({ args: rest, options: { host: { type: 'string' }, port: { type: 'string' }, runbooks: { type: 'string' }, data: { type: 'string' } } });
        return await serveCommand(values, out);
      }
      case 'list': {
        const { values } = parseArgs({ args: rest, options: { runbooks: { type: 'string' } } });
        return listCommand(values.runbooks, out);
      }
      case 'validate': {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { inventory: { type: 'string' } } });
        return validateCommand(positionals, out, values.inventory);
      }
      case 'run': {
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: {
            var: { type: 'string', multiple: true, default: [] },
            'var-file': { type: 'string' },
            from: { type: 'string' },
            step: { type: 'string' },
            yes: { type: 'boolean', short: 'y', default: false },
            runbooks: { type: 'string' },
            data: { type: 'string' },
            target: { type: 'string' },
            verbose: { type: 'boolean', short: 'v', default: false },
            resume: { type: 'string' },
            converge: { type: 'boolean', default: false },
            plan: { type: 'boolean', default: false },
            record: { type: 'string' },
            all: { type: 'boolean', default: false },
            lang: { type: 'string' },
            inventory: { type: 'string' },
            'accept-new-host-key': { type: 'boolean', default: false },
            role: { type: 'string', multiple: true },
            rollback: { type: 'boolean', default: false },
            parallel: { type: 'string' },
            'max-fail': { type: 'string' },
            batches: { type: 'string' },
          },
        });
        if (positionals.length > 1) {
          out(tr.t('cli.usage', { command: 'run', message: tr.t('cli.main.runOne') }));
          return 2;
        }
        const { var: vars, 'var-file': varFile, 'accept-new-host-key': acceptNewHostKey, 'max-fail': maxFail, ...rest2 } = values;
        return await runCommand({ ...rest2, vars, varFile, acceptNewHostKey, maxFail, runbook: positionals[0] }, out);
      }
      case 'rollback': {
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: { yes: { type: 'boolean', short: 'y', default: false }, data: { type: 'string' }, runbooks: { type: 'string' }, inventory: { type: 'string' }, lang: { type: 'string' } },
        });
        if (positionals.length !== 1) {
          out(tr.t('cli.usage', { command: 'rollback', message: tr.t('cli.main.approveOne') }));
          return 2;
        }
        return await rollbackCommand({ ...values, runId: positionals[0] }, out);
      }
      case 'lab': {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { stale: { type: 'boolean', default: false }, hosts: { type: 'string' }, profile: { type: 'string' } } });
        if (values.profile !== undefined && values.profile !== 'minimal') {
          out(tr.t('cli.usage', { command: 'lab', message: tr.t('cli.main.labProfile') }));
          return 2;
        }
        return await labCommand({ action: positionals[0], id: positionals[1], stale: values.stale, hosts: values.hosts, minimal: values.profile === 'minimal' }, out);
      }
      case 'hosts': {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { inventory: { type: 'string' }, runbooks: { type: 'string' } } });
        return await hostsCommand({ action: positionals[0], host: positionals[1], ...values }, out);
      }
      case 'audit': {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { all: { type: 'boolean', default: false }, data: { type: 'string' } } });
        return auditCommand({ action: positionals[0], runs: positionals.slice(1), all: values.all, data: values.data }, out);
      }
      case 'token': {
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: { user: { type: 'string' }, role: { type: 'string' }, data: { type: 'string' } },
        });
        return tokenCommand({ action: positionals[0], args: positionals.slice(1), ...values }, out);
      }
      case 'approve': {
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: { reject: { type: 'boolean', default: false }, comment: { type: 'string' }, token: { type: 'string' }, block: { type: 'string' }, data: { type: 'string' } },
        });
        if (positionals.length !== 1) {
          out(tr.t('cli.usage', { command: 'approve', message: tr.t('cli.main.approveOne') }));
          return 2;
        }
        return approveCommand({ ...values, runId: positionals[0] }, out);
      }
      case 'evidence': {
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: { output: { type: 'string', short: 'o' }, pubkey: { type: 'string' }, data: { type: 'string' }, runbooks: { type: 'string' } },
        });
        return evidenceCommand({ action: positionals[0], args: positionals.slice(1), ...values }, out);
      }
      case 'runs': {
        const { values } = parseArgs({
          args: rest,
          options: { runbook: { type: 'string' }, status: { type: 'string' }, limit: { type: 'string' }, data: { type: 'string' } },
        });
        return runsCommand(values, out);
      }
      case 'report': {
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: {
            format: { type: 'string', short: 'f' },
            output: { type: 'string', short: 'o' },
            data: { type: 'string' },
            runbooks: { type: 'string' },
          },
        });
        if (positionals.length !== 1) {
          out(tr.t('cli.usage', { command: 'report', message: tr.t('cli.main.reportOne') }));
          return 2;
        }
        return await reportCommand({ ...values, runId: positionals[0]! }, out);
      }
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        out(usage);
        return cmd === undefined ? 2 : 0;
      default:
        out(tr.t('cli.main.unknownCommand', { command: JSON.stringify(cmd), usage }));
        return 2;
    }
  } catch (e) {
    // parseArgs reports unknown or malformed options by throwing: a usage error, not a crash.
    if ((e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      // Node's own description of the option stays as Node words it; the frame is ours.
      out(tr.t('cli.usage', { command: cmd ?? '', message: (e as Error).message }));
      return 2;
    }
    throw e;
  }
}

/** --NAME VALUE or --NAME=VALUE, wherever it stands (before the command's own parse). */
function flag(args: string[], name: string): string | undefined {
  for (const [i, a] of args.entries()) {
    if (a === `--${name}`) return args[i + 1];
    if (a.startsWith(`--${name}=`)) return a.slice(`--${name}=`.length);
  }
  return undefined;
}
