// Fleet runs, the pure parts: target selectors against an inventory, the scheduler's decisions
// (parallel, failure budget, canary batches) as fast-check properties over random outcomes,
// the fleet view, and the fleet report renderers (JUnit well-formed, one suite per host).
import { noLeaks } from './helpers/leaks.ts';
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseInventory } from '../server/target/inventory.ts';
import { hostVars, isFleetSelector, selectTargets } from '../server/target/selector.ts';
import {
  assignBatches, budgetState, decide, failureBudget, fleetStatus, parseBatches, parseMaxFail, parseParallel, type Amount, type SchedHost,
} from '../server/run/fleet-schedule.ts';
import type { FleetHostStatus } from '../server/record/fleets.ts';
import { buildFleetView } from '../server/run/fleet-view.ts';
import { buildFleetReport, fleetToJUnit, fleetToMarkdown } from '../server/report/fleet.ts';
import { childrenNamed, parseXml } from './helpers/xml.ts';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RunStore } from '../server/record/store.ts';
import { FleetStore, isFleetId, newFleetId } from '../server/record/fleets.ts';
import { interruptOrphanedFleets } from '../server/run/fleet.ts';
import { selfOwner } from '../server/owner.ts';

const inv = parseInventory(
  [
    'hosts:',
    '  web1: {address: 10.0.0.1, labels: [web, debian]}',
    '  web2: {address: 10.0.0.2, labels: [web]}',
    '  db1: {address: 10.0.0.3, labels: [db, debian], vars: {ROLE: db, OTHER: x}}',
    'groups:',
    '  web: [web1, web2]',
    '  empty: []',
    '',
  ].join('\n'),
  '/inv.yaml',
);

describe('selectors', () => {
  test('one target: local, lab, a host, ssh:// on the CLI only', () => {
    assert.deepEqual(selectTargets('local', inv), { ok: true, value: { fleet: false, id: 'local' } });
    assert.deepEqual(selectTargets('lab', undefined), { ok: true, value: { fleet: false, id: 'lab' } });
    assert.deepEqual(selectTargets('web1', inv), { ok: true, value: { fleet: false, id: 'web1' } });
    assert.deepEqual(selectTargets('ssh://root@h:22', inv, { adHoc: true }), { ok: true, value: { fleet: false, id: 'ssh://root@h:22' } });
    const api = selectTargets('ssh://root@h:22', inv);
    assert.ok(!api.ok && /command line only/.test(api.error.message));
  });

  test('fleets: @group, @all, label=, lists; order kept, duplicates once', () => {
    assert.deepEqual(selectTargets('@web', inv), { ok: true, value: { fleet: true, hosts: ['web1', 'web2'] } });
    assert.deepEqual(selectTargets('@all', inv), { ok: true, value: { fleet: true, hosts: ['web1', 'web2', 'db1'] } });
    assert.deepEqual(selectTargets('label=debian', inv), { ok: true, value: { fleet: true, hosts: ['web1', 'db1'] } });
    assert.deepEqual(selectTargets('label=web,debian', inv), { ok: true, value: { fleet: true, hosts: ['web1'] } });
    assert.deepEqual(selectTargets('db1, @web, web1', inv), { ok: true, value: { fleet: true, hosts: ['db1', 'web1', 'web2'] } });
    assert.ok(isFleetSelector('@x') && isFleetSelector('label=a') && isFleetSelector('a,b') && !isFleetSelector('web1') && !isFleetSelector('lab'));
  });

  test('errors name the unknown group, label or host', () => {
    const msg = (s: string, i: typeof inv | null = inv) => {
      const r = selectTargets(s, i ?? undefined);
      assert.ok(!r.ok, s);
      assert.equal(r.error.code, 'UNKNOWN_TARGET');
      return r.error.message;
    };
    assert.match(msg('@nope'), /no group "nope".*@web/);
    assert.match(msg('label=gpu'), /no host has the label "gpu"; labels: web, debian, db/);
    assert.match(msg('label=web,db'), /no host has all the labels web, db/);
    assert.match(msg('web1,web9'), /no host "web9".*hosts: web1, web2, db1/);
    assert.match(msg('@empty'), /@empty has no hosts/);
    assert.match(msg('web1,local'), /local cannot be part of a fleet/);
    assert.match(msg('@all', null), /no inventory/);
    assert.match(msg(''), /empty/);
  });

  test('host vars: the declared ones, under the given ones', () => {
    assert.deepEqual(hostVars(new Set(['ROLE', 'PORT']), inv.hosts.get('db1')!.vars, { PORT: '1' }), { ROLE: 'db', PORT: '1' });
    assert.deepEqual(hostVars(new Set(['ROLE']), inv.hosts.get('db1')!.vars, { ROLE: 'given' }), { ROLE: 'given' });
  });
});

describe('scheduler', () => {
  test('parsing --parallel, --max-fail, --batches', () => {
    assert.deepEqual(parseParallel(undefined), { ok: true, value: 5 });
    assert.deepEqual(parseParallel('10'), { ok: true, value: 10 });
    for (const bad of ['0', '-1', 'x', '1.5', 1000]) assert.equal(parseParallel(bad).ok, false, String(bad));
    assert.deepEqual(parseMaxFail(undefined), { ok: true, value: { count: 0 } });
    assert.deepEqual(parseMaxFail('25%'), { ok: true, value: { percent: 25 } });
    assert.deepEqual(parseMaxFail(2), { ok: true, value: { count: 2 } });
    for (const bad of ['101%', 'x', '-1', '2.5']) assert.equal(parseMaxFail(bad).ok, false, bad);
    assert.deepEqual(parseBatches('1,25%,100%'), { ok: true, value: [{ count: 1 }, { percent: 25 }, { percent: 100 }] });
    for (const bad of ['0', '1,,2', '0%', 'a']) assert.equal(parseBatches(bad).ok, false, bad);
  });

  test('batches follow Ansible serial: sizes, percent of all hosts rounded down (at least 1), the last repeating', () => {
    assert.deepEqual(assignBatches(10, [{ count: 1 }, { percent: 25 }, { percent: 100 }]), [0, 1, 1, 2, 2, 2, 2, 2, 2, 2]);
    assert.deepEqual(assignBatches(7, [{ count: 2 }]), [0, 0, 1, 1, 2, 2, 3]);
    assert.deepEqual(assignBatches(3, [{ percent: 10 }]), [0, 1, 2]);
    assert.deepEqual(assignBatches(4, undefined), [0, 0, 0, 0]);
  });

  test('budget: more failures than allowed spends it', () => {
    assert.equal(failureBudget({ count: 0 }, 20), 0);
    assert.equal(failureBudget({ percent: 25 }, 10), 2); // 3 failures of 10 exceed 25%
    const hosts = (n: number): SchedHost[] => Array.from({ length: 4 }, (_, i) => ({ status: i < n ? 'failed' : 'pending', batch: 0 }));
    assert.deepEqual(budgetState(hosts(1), 1), { failed: 1, exhausted: false });
    assert.deepEqual(budgetState(hosts(2), 1), { failed: 2, exhausted: true });
  });

  test('a spent budget skips every pending host with the reason', () => {
    const d = decide([{ status: 'failed', batch: 0 }, { status: 'running', batch: 0 }, { status: 'pending', batch: 0 }], { parallel: 5, budget: 0, maxFailLabel: '0' });
    assert.deepEqual(d.start, []);
    assert.deepEqual(d.skip.map((s) => s.index), [2]);
    assert.match(d.skip[0]!.reason, /failure budget is spent \(1 host failed, more than --max-fail 0\)/);
  });

  // A random fleet driven to its end: each step either starts what decide() says or ends a
  // running host with a random outcome. The invariants hold at every step.
  test('properties: parallel bound, batches in order, no start once the budget is spent, everyone ends', () => {
    const arb = fc.record({
      n: fc.integer({ min: 1, max: 30 }),
      parallel: fc.integer({ min: 1, max: 8 }),
      maxFail: fc.oneof(fc.integer({ min: 0, max: 5 }).map((count): Amount => ({ count })), fc.integer({ min: 0, max: 100 }).map((percent): Amount => ({ percent }))),
      batches: fc.option(fc.array(fc.oneof(fc.integer({ min: 1, max: 5 }).map((count): Amount => ({ count })), fc.integer({ min: 1, max: 100 }).map((percent): Amount => ({ percent }))), { minLength: 1, maxLength: 4 }), { nil: undefined }),
      outcomes: fc.array(fc.constantFrom<FleetHostStatus>('passed', 'passed', 'failed', 'interrupted'), { minLength: 30, maxLength: 30 }),
      picks: fc.array(fc.nat(), { minLength: 200, maxLength: 200 }),
    });
    fc.assert(
      fc.property(arb, ({ n, parallel, maxFail, batches, outcomes, picks }) => {
        const batchOf = assignBatches(n, batches);
        const hosts: SchedHost[] = batchOf.map((batch) => ({ status: 'pending', batch }));
        const budget = failureBudget(maxFail, n);
        let ended = 0;
        for (let step = 0; step < 400; step++) {
          const d = decide(hosts, { parallel, budget, maxFailLabel: 'x' });
          const spent = budgetState(hosts, budget).exhausted;
          if (spent) assert.equal(d.start.length, 0, 'nothing starts once the budget is spent');
          for (const s of d.skip) {
            assert.ok(spent, 'skips only when the budget is spent');
            hosts[s.index]!.status = 'skipped';
          }
          for (const i of d.start) {
            assert.equal(hosts[i]!.status, 'pending');
            // Every host of an earlier batch has ended.
            assert.ok(hosts.every((h) => h.batch >= hosts[i]!.batch || (h.status !== 'pending' && h.status !== 'running')), 'batch order');
            hosts[i]!.status = 'running';
          }
          assert.ok(hosts.filter((h) => h.status === 'running').length <= parallel, 'parallel bound');
          const running = hosts.map((h, i) => ({ h, i })).filter(({ h }) => h.status === 'running');
          if (running.length === 0) break;
          const pick = running[picks[step % picks.length]! % running.length]!;
          pick.h.status = outcomes[pick.i % outcomes.length]!;
          ended++;
        }
        assert.ok(hosts.every((h) => h.status !== 'pending' && h.status !== 'running'), 'every host ended');
        const st = fleetStatus(hosts, false);
        assert.equal(st, hosts.every((h) => h.status === 'passed') ? 'passed' : 'failed');
        // With no failure at all, no host was skipped.
        if (!hosts.some((h) => h.status === 'failed' || h.status === 'interrupted')) assert.ok(hosts.every((h) => h.status === 'passed'));
        // Failures beyond the budget: at most `parallel` hosts (those already running) can have failed past it.
        const failed = hosts.filter((h) => h.status === 'failed' || h.status === 'interrupted').length;
        assert.ok(failed <= budget + parallel, `failed ${failed} ≤ budget ${budget} + parallel ${parallel}`);
        assert.ok(ended <= n);
      }),
      { numRuns: 300 },
    );
  });

  test('stopped: nothing starts, pending hosts skipped with the reason; the fleet ends interrupted', () => {
    const hosts: SchedHost[] = [{ status: 'passed', batch: 0 }, { status: 'pending', batch: 0 }];
    const d = decide(hosts, { parallel: 2, budget: 0, maxFailLabel: '0', stopped: 'interrupted by SIGINT' });
    assert.deepEqual(d, { start: [], skip: [{ index: 1, reason: 'not started: interrupted by SIGINT' }] });
    hosts[1]!.status = 'skipped';
    assert.equal(fleetStatus(hosts, true), 'interrupted');
  });
});

describe('fleet view and reports', () => {
  const f = {
    id: 'f20260101000000-aaaaaa', runbookId: 'rb', target: '@web', user: 'u', parallel: 2, maxFail: '0', batches: null, options: {},
    status: 'failed' as const, reason: '1 of 2 hosts failed, 1 skipped', startedAt: '2026-01-01T00:00:00.000Z', endedAt: '2026-01-01T00:01:00.000Z', parentFleetId: null, owner: null,
  };
  const hosts = [
    { host: 'web1', position: 0, batch: 0, runId: 'r20260101000000-aaaaaa', resumeOf: null, status: 'failed' as const, reason: 'step b failed' },
    { host: 'web<2>', position: 1, batch: 0, runId: 'r20260101000000-bbbbbb', resumeOf: null, status: 'skipped' as const, reason: 'not started: the failure budget is spent & "so"' },
  ];
  const steps = [{ id: 'a', title: 'A' }, { id: 'b', title: 'B' }];
  const view = buildFleetView(f, hosts, steps, (h) => (h.host === 'web1' ? { started: true, verdicts: new Map([['a', { status: 'passed' }], ['b', { status: 'failed', reason: 'exit 1' }]]) } : { started: false, verdicts: new Map() }), false);

  test('the view: counts, budget, cells', () => {
    assert.deepEqual(view.counts, { passed: 0, failed: 1, skipped: 1, running: 0, pending: 0, interrupted: 0 });
    assert.deepEqual(view.budget, { maxFail: '0', allowed: 0, failed: 1, exhausted: true });
    assert.deepEqual(view.hosts[0]!.steps, [{ id: 'a', status: 'passed' }, { id: 'b', status: 'failed', reason: 'exit 1' }]);
    assert.deepEqual(view.hosts[1]!.steps.map((s) => s.status), ['not-run', 'not-run']);
    assert.equal(view.hosts[1]!.started, false);
  });

  test('JUnit: well-formed, one testsuite per host, a host that never ran is a skipped suite', () => {
    const xml = fleetToJUnit(buildFleetReport(view, () => undefined));
    const doc = parseXml(xml);
    assert.equal(doc.name, 'testsuites');
    const suites = childrenNamed(doc, 'testsuite');
    assert.deepEqual(suites.map((s) => s.attrs.name), ['web1', 'web<2>']);
    assert.equal(suites[1]!.attrs.skipped, '1');
    const md = fleetToMarkdown(buildFleetReport(view, () => undefined));
    assert.match(md, /\*\*Hosts:\*\* 0 passed, 1 failed, 1 skipped/);
  });
});

describe('fleet records', () => {
  test('a dead process\'s fleet ends interrupted: running hosts interrupted, pending ones skipped; a live one is left alone', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-fleet-store-'));
    const store = RunStore.open(dir);
    try {
      const fs2 = new FleetStore(store);
      const make = (owner: string) => {
        const id = newFleetId();
        assert.ok(isFleetId(id));
        fs2.create(
          { id, runbookId: 'rb', target: '@all', user: 'u', parallel: 2, maxFail: '0', batches: null, options: {}, startedAt: new Date().toISOString(), parentFleetId: null, owner },
          ['a', 'b', 'c'].map((host, position) => ({ host, position, batch: 0, runId: `r20260101000000-aaaaa${position}`, resumeOf: null })),
        );
        fs2.setHost(id, 'a', 'passed');
        fs2.setHost(id, 'b', 'running');
        return id;
      };
      const dead = make('999999999:1');
      const live = make(selfOwner());
      assert.deepEqual(interruptOrphanedFleets(store), [dead]);
      assert.equal(fs2.get(dead)!.status, 'interrupted');
      assert.deepEqual(fs2.hosts(dead).map((h) => h.status), ['passed', 'interrupted', 'skipped']);
      assert.equal(fs2.get(live)!.status, 'running');
    } finally {
      store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

noLeaks();
