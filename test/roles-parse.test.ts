// Runbooks that span hosts, the pure part: `roles:` and `on=` as parsed, and translations that
// may not change where a command runs. The goldens (test/fixtures/runbooks/roles.md and
// broken/roles*.md) are checked by test/parse.test.ts.
// Run: node --import tsx --test test/roles-parse.test.ts

import { noLeaks } from './helpers/leaks.ts';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRunbook } from '../server/runbook/parse.ts';
import { checkTranslation } from '../server/runbook/translation.ts';

const SOURCE = `---
title: Two hosts
roles: [source, destination]
---

# Two hosts

## Copy {#copy}

Prose.

\`\`\`sh {id=make}
echo one
\`\`\`

\`\`\`sh {id=take on=destination}
echo two
\`\`\`

\`\`\`text
display blocks run nowhere
\`\`\`

\`\`\`sh {verify id=seen on=destination}
true
\`\`\`
`;

const parse = (text: string, file = 'two.md') => parseRunbook(text, file);
const codes = (text: string) => parse(text).diagnostics.map((d) => `${d.line} ${d.code}`);

describe('roles and on=', () => {
  it('gives every executable block its role, the first by default, and display blocks none', () => {
    const { runbook, diagnostics } = parse(SOURCE);
    assert.deepEqual(diagnostics, []);
    assert.deepEqual(runbook!.roles, ['source', 'destination']);
    const on = Object.fromEntries(Object.values(runbook!.blocks).map((b) => [b.id, b.on ?? null]));
    assert.deepEqual(on, { make: 'source', take: 'destination', 'copy-3': null, seen: 'destination' });
  });

  it('a runbook without roles has no role anywhere (it runs as before)', () => {
    const { runbook, diagnostics } = parse('# One\n\n## S\n\n```sh\ntrue\n```\n\n```sh {verify}\ntrue\n```\n');
    assert.deepEqual(diagnostics, []);
    assert.equal(runbook!.roles, undefined);
    assert.ok(Object.values(runbook!.blocks).every((b) => b.on === undefined));
  });

  it('reports bad names, duplicates, an empty or non-list roles, unknown on= and on= without roles', () => {
    assert.deepEqual(codes('---\nroles: [a, a, B, x_y]\n---\n# T\n\n## S\n\n```sh {verify}\ntrue\n```\n'), ['2 ROLE_INVALID', '2 ROLE_INVALID', '2 ROLE_INVALID']);
    assert.deepEqual(codes('---\nroles: source\n---\n# T\n\n## S\n\n```sh {verify}\ntrue\n```\n'), ['2 ROLE_INVALID']);
    assert.deepEqual(codes('---\nroles: []\n---\n# T\n\n## S\n\n```sh {verify}\ntrue\n```\n'), ['2 ROLE_INVALID']);
    assert.deepEqual(codes('---\nroles: [a, b]\n---\n# T\n\n## S\n\n```sh {verify on=c}\ntrue\n```\n'), ['8 UNKNOWN_ROLE']);
    const without = parse('# T\n\n## S\n\n```sh {verify on=a}\ntrue\n```\n').diagnostics;
    assert.deepEqual(without.map((d) => `${d.line} ${d.code}`), ['5 UNKNOWN_ROLE']);
    assert.match(without[0]!.message, /declares no roles/);
  });

  it('keeps the role names in order, as a list a CLI and a page can bind', () => {
    const { runbook } = parse('---\nroles:\n  - server\n  - client-2\n---\n# T\n\n## S\n\n```sh {on=client-2 verify}\ntrue\n```\n');
    assert.deepEqual(runbook!.roles, ['server', 'client-2']);
    assert.equal(Object.values(runbook!.blocks)[0]!.on, 'client-2');
  });
});

describe('translations keep where each command runs', () => {
  const translate = (text: string) => {
    const src = parse(SOURCE).runbook!;
    const t = parseRunbook(text, 'two.ko.md', { id: 'two' }).runbook!;
    return checkTranslation(src, t, 'ko').filter((d) => d.severity === 'error').map((d) => `${d.line} ${d.code}`);
  };
  const ko = SOURCE.replace('title: Two hosts', 'title: 두 호스트\nlang: ko').replace('# Two hosts', '# 두 호스트').replace('## Copy {#copy}', '## 복사 {#copy}').replace('Prose.', '설명.');

  it('a faithful translation passes', () => {
    assert.deepEqual(translate(ko), []);
  });

  it('an on= moved to another role is refused', () => {
    assert.deepEqual(translate(ko.replace('{id=take on=destination}', '{id=take on=source}')), ['17 TRANSLATION_ATTRIBUTE_DIFFERS']);
    // Leaving out on= means the first role: the same as writing it.
    assert.deepEqual(translate(ko.replace('{id=take on=destination}', '{id=take}')), ['17 TRANSLATION_ATTRIBUTE_DIFFERS']);
    assert.deepEqual(translate(ko.replace('{id=make}', '{id=make on=source}')), []);
  });

  it('other roles are refused', () => {
    assert.deepEqual(translate(ko.replace('roles: [source, destination]', 'roles: [source, destination, extra]')), ['1 TRANSLATION_FIELD']);
  });
});

noLeaks();
