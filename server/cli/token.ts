// `stepwise token create|list|revoke`: the API tokens of users, in the data folder's database.
// A new token is printed once; only its sha256 is stored.
import { RunStore } from '../record/store.ts';
import { ROLES, Users, isRole, type TokenInfo } from '../record/users.ts';
import { dataDir } from './config.ts';

export interface TokenCommand {
  action?: string;
  args: string[];
  user?: string;
  role?: string;
  data?: string;
}

const USAGE = `usage: stepwise token create --user NAME --role viewer|approver|operator|admin [--data DIR]
       stepwise token list [--data DIR]
       stepwise token revoke ID [--data DIR]`;

export function tokenCommand(o: TokenCommand, out: (s: string) => void): number {
  if (o.action !== 'create' && o.action !== 'list' && o.action !== 'revoke') {
    out(o.action === undefined ? USAGE : `stepwise token: unknown action ${JSON.stringify(o.action)}\n${USAGE}`);
    return 2;
  }
  if (o.action === 'create' && (!o.user || !o.role)) {
    out(`stepwise token create: --user and --role are required\n${USAGE}`);
    return 2;
  }
  if (o.action === 'create' && !isRole(o.role)) {
    out(`stepwise token create: --role must be one of ${ROLES.join(', ')}`);
    return 2;
  }
  if (o.action === 'revoke' && o.args.length !== 1) {
    out(`stepwise token revoke: name exactly one token id (see \`stepwise token list\`)`);
    return 2;
  }
  if (o.action !== 'revoke' && o.args.length) {
    out(`stepwise token ${o.action}: unexpected ${JSON.stringify(o.args[0])}\n${USAGE}`);
    return 2;
  }
  const store = RunStore.open(dataDir(o.data));
  try {
    const users = new Users(store.database);
    switch (o.action) {
      case 'create': {
        const made = users.createToken(o.user!, o.role as (typeof ROLES)[number]);
        if (!made.ok) {
          out(`stepwise token create: ${made.error.message}`);
          return 2;
        }
        const { info, token } = made.value;
        out(`Created ${info.id} for ${info.user} (${info.role}). The token is shown only this once:`);
        out(token);
        return 0;
      }
      case 'list': {
        const list = users.listTokens();
        if (!list.length) {
          out('No tokens yet: `stepwise token create --user NAME --role viewer|approver|operator|admin`.');
          return 0;
        }
        out(table(list));
        return 0;
      }
      case 'revoke': {
        const id = o.args[0]!;
        const r = users.revokeToken(id);
        if (r === 'unknown') {
          out(`stepwise token revoke: no token ${JSON.stringify(id)} (see \`stepwise token list\`)`);
          return 1;
        }
        out(r === 'revoked' ? `Revoked ${id}.` : `${id} was already revoked.`);
        return 0;
      }
    }
  } finally {
    store.close();
  }
}

function table(list: TokenInfo[]): string {
  const minute = (iso: string | null) => (iso ? iso.slice(0, 16).replace('T', ' ') : '-');
  const rows = [
    ['ID', 'USER', 'ROLE', 'CREATED (UTC)', 'LAST USED', 'STATUS'],
    ...list.map((t) => [t.id, t.user, t.role, minute(t.createdAt), minute(t.lastUsedAt), t.revokedAt ? `revoked ${minute(t.revokedAt)}` : 'active']),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}
