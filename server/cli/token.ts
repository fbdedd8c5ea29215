// `stepwise token create|list|revoke`: the API tokens of users, in the data folder's database.
// A new token is printed once; only its sha256 is stored.
import { RunStore } from '../record/store.ts';
import { ROLES, Users, isRole, type TokenInfo } from '../record/users.ts';
import { cliTranslator, dataDir } from './config.ts';

export interface TokenCommand {
  action?: string;
  args: string[];
  user?: string;
  role?: string;
  data?: string;
}

export function tokenCommand(o: TokenCommand, out: (s: string) => void): number {
  const tr = cliTranslator();
  const usage = tr.t('cli.token.usage');
  if (o.action !== 'create' && o.action !== 'list' && o.action !== 'revoke') {
    out(o.action === undefined ? usage : tr.t('cli.token.unknownAction', { action: JSON.stringify(o.action), usage }));
    return 2;
  }
  if (o.action === 'create' && (!o.user || !o.role)) {
    out(tr.t('cli.token.userAndRole', { usage }));
    return 2;
  }
  if (o.action === 'create' && !isRole(o.role)) {
    out(tr.t('cli.usage', { command: 'token create', message: tr.t('cli.token.role', { roles: ROLES.join(', ') }) }));
    return 2;
  }
  if (o.action === 'revoke' && o.args.length !== 1) {
    out(tr.t('cli.usage', { command: 'token revoke', message: tr.t('cli.token.revokeOne') }));
    return 2;
  }
  if (o.action !== 'revoke' && o.args.length) {
    out(tr.t('cli.token.unexpected', { action: o.action, arg: JSON.stringify(o.args[0]), usage }));
    return 2;
  }
  const store = RunStore.open(dataDir(o.data));
  try {
    const users = new Users(store.database);
    switch (o.action) {
      case 'create': {
        const made = users.createToken(o.user!, o.role as (typeof ROLES)[number]);
        if (!made.ok) {
          out(tr.t('cli.usage', { command: 'token create', message: made.error.message }));
          return 2;
        }
        const { info, token } = made.value;
        out(tr.t('cli.token.created', { id: info.id, user: info.user, role: info.role }));
        out(token);
        return 0;
      }
      case 'list': {
        const list = users.listTokens();
        if (!list.length) {
          out(tr.t('cli.token.none'));
          return 0;
        }
        out(table(list));
        return 0;
      }
      case 'revoke': {
        const id = o.args[0]!;
        const r = users.revokeToken(id);
        if (r === 'unknown') {
          out(tr.t('cli.usage', { command: 'token revoke', message: tr.t('cli.token.noToken', { id: JSON.stringify(id) }) }));
          return 1;
        }
        out(tr.t(r === 'revoked' ? 'cli.token.revoked' : 'cli.token.alreadyRevoked', { id }));
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
