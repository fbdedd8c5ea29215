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
import { dataDir } from './config.ts';
import { reapOrphans } from './orphans.ts';

const USAGE = `usage: stepwise <command> [options]

  serve [--host H] [--port P] [--runbooks DIR] [--data DIR]
                          start the web service (default 127.0.0.1:7681)
  list [--runbooks DIR]   list the runbooks
  validate [DIR]          check every runbook; print file:line CODE message
  run <runbook>|--all [--var K=V]... [--var-file FILE] [--from STEP] [--step STEP] [--yes]
      [--runbooks DIR] [--data DIR] [--target local|lab|HOST|ssh://user@host[:port]] [--verbose]
      [--inventory FILE] [--accept-new-host-key]
      [--resume RUNID] [--converge] [--plan] [--record strict|best-effort] [--lang LANG]
                          run a runbook headless, recording it like a browser run;
                          --lang records the run as read in that translation (NAME.LANG.md);
                          --resume continues a failed run from its failed step,
                          --converge skips steps whose checks already pass,
                          --plan prints what would run and runs nothing;
                          --all runs every runbook in order on one target and
                          ends with a table and one line "N passed, N failed, N skipped"
  runs [--runbook ID] [--status S] [--limit N] [--data DIR]
                          list recorded runs, newest first
  report <runId> [--format json|junit|md|cast] [--output FILE] [--data DIR] [--runbooks DIR]
                          a run's report (default json) or its raw recording

  lab up [ID] | lab down [ID] | lab down --stale | lab list
                          a disposable lab host kept up between commands
  lab up [ID] --hosts N [--profile minimal]
                          N hosts on one LAN (kvmhost, host2…), each with its own sshd;
                          minimal: the others without libvirtd
  lab inventory ID        an inventory reaching the lab's sshd, for --inventory
  hosts list | hosts trust HOST [--inventory FILE]
                          the inventory's SSH hosts; trust a host's key (known_hosts)
  audit verify [RUNID...|--all] [--data DIR]
                          recompute the audit hash chains; exit 1 on any tampering
  evidence <runId> --output FILE.zip [--data DIR] [--runbooks DIR]
                          a run's evidence bundle (signed when STEPWISE_SIGNING_KEY
                          names an Ed25519 private key, PEM)
  approve <runId> [--reject] [--comment TEXT] [--block ID] [--data DIR]
                          approve (or reject) the block a run waits on, as the user of
                          the token in STEPWISE_TOKEN (or --token); never the run's operator
  evidence verify FILE [--pubkey PEM]
                          check a bundle offline (no data folder); exit 1 naming each failure
  token create --user NAME --role viewer|approver|operator|admin [--data DIR]
  token list [--data DIR] | token revoke ID [--data DIR]
                          API tokens for users: create prints the new token once

environment: STEPWISE_TOKEN (22+ characters), STEPWISE_RUNBOOKS, STEPWISE_DATA, HOST, PORT,
  STEPWISE_MAX_RUNS_PER_USER, STEPWISE_MAX_RUNS, STEPWISE_MAX_LABS (live-run limits of serve),
  STEPWISE_VAR_<NAME> (a run's variable, kept out of the command line; a secret with no
  value is asked for without echo when stdin is a terminal),
  STEPWISE_SIGNING_KEY (an Ed25519 private key, PEM, that signs evidence bundles),
  STEPWISE_USER (who a CLI run's operator is; default the OS user)

Every command first closes what a killed stepwise process left: its runs become
interrupted (resumable), its session folders and labs are removed (lab commands leave
stale labs to \`lab list\` and \`lab down --stale\`).`;

export async function main(argv: string[], out: (s: string) => void = (s) => console.log(s)): Promise<number> {
  const [cmd, ...rest] = argv;
  // Verifying a bundle reads one file and nothing of a data folder (it may run where there is none).
  const offline = cmd === 'evidence' && rest[0] === 'verify';
  if (cmd !== undefined && !offline && !['help', '--help', '-h'].includes(cmd)) await reapOrphans(dataDir(dataFlag(rest)), { labs: cmd !== 'lab' });
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
          },
        });
        if (positionals.length > 1) {
          out('stepwise run: name one runbook id (see `stepwise list`), or --all');
          return 2;
        }
        const { var: vars, 'var-file': varFile, 'accept-new-host-key': acceptNewHostKey, ...rest2 } = values;
        return await runCommand({ ...rest2, vars, varFile, acceptNewHostKey, runbook: positionals[0] }, out);
      }
      case 'lab': {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { stale: { type: 'boolean', default: false }, hosts: { type: 'string' }, profile: { type: 'string' } } });
        if (values.profile !== undefined && values.profile !== 'minimal') {
          out('stepwise lab: --profile minimal is the only profile (hosts without libvirtd)');
          return 2;
        }
        return await labCommand({ action: positionals[0], id: positionals[1], stale: values.stale, hosts: values.hosts, minimal: values.profile === 'minimal' }, out);
      }
      case 'hosts': {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { inventory: { type: 'string' }, runbooks: { type: 'string' } } });
        return hostsCommand({ action: positionals[0], host: positionals[1], ...values }, out);
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
          out('stepwise approve: name exactly one run id');
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
          out('stepwise report: name exactly one run id (see `stepwise runs`)');
          return 2;
        }
        return await reportCommand({ ...values, runId: positionals[0]! }, out);
      }
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        out(USAGE);
        return cmd === undefined ? 2 : 0;
      default:
        out(`stepwise: unknown command ${JSON.stringify(cmd)}\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    // parseArgs reports unknown or malformed options by throwing: a usage error, not a crash.
    if ((e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      out(`stepwise ${cmd}: ${(e as Error).message}`);
      return 2;
    }
    throw e;
  }
}

/** --data DIR or --data=DIR, wherever it stands (before the command's own parse). */
function dataFlag(args: string[]): string | undefined {
  for (const [i, a] of args.entries()) {
    if (a === '--data') return args[i + 1];
    if (a.startsWith('--data=')) return a.slice('--data='.length);
  }
  return undefined;
}
