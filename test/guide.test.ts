// The KVM guide (Seo Jin-woo, 2011) as runbooks: runbooks/guide/*.md, one per section.
// 1. every runbook validates; 2. every command, config and sample output of the guide's
// catalog (runbooks/guide/_source/catalog.json) is in the runbook of its section; 3. the
// sections are all there, in order, every step has a check and every destructive command
// asks for confirmation; 4. the whole folder replays on a lab with no failed step, at least
// 90% of the guide's steps executed, and skips only for missing capabilities or platforms.
import { noLeaks } from './helpers/leaks.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadCatalog } from '../server/runbook/catalog.ts';
import type { Block, Runbook } from '../server/runbook/model.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const RUNBOOKS = path.join(ROOT, 'runbooks');
const GUIDE = path.join(RUNBOOKS, 'guide');
const GUIDE_CATALOG = path.join(GUIDE, '_source', 'catalog.json');

const SECTIONS = ['1', '2.1', '2.2', '3.1', '3.2', '3.3', '3.4', '4', '5.1', '5.2', '5.3', '6', '7', '8', '9'];
/** The capability vocabulary blocks may require (docs/guide.md). */
const CAPABILITIES = ['hw-virt', 'kvm', 'kernel-modules', 'pci-passthrough', 'usb-device', 'internet', 'gui', 'usb-redirector'];

interface GuideEntry {
  section: string;
  commands: string[];
  configs: Array<{ path_or_context: string; before: string | null; after: string }>;
  outputs: string[];
}

function guideRunbooks(): Runbook[] {
  const cat = loadCatalog(RUNBOOKS);
  return cat.entries.filter((e) => e.file.startsWith('guide/')).map((e) => {
    assert.ok(e.runbook, `${e.file} did not parse`);
    return e.runbook!;
  });
}

function runbookFor(rbs: Runbook[], section: string): Runbook {
  const top = section.replace(/\.[a-z]$/, '');
  const rb = rbs.find((r) => r.section === top);
  assert.ok(rb, `no runbook for section ${top}`);
  return rb!;
}

const blocksOf = (rb: Runbook): Block[] => Object.values(rb.blocks);
const executable = (rb: Runbook): Block[] => blocksOf(rb).filter((b) => b.kind === 'command' || b.kind === 'check');
const sourceOf = (rb: Runbook): string => fs.readFileSync(path.join(RUNBOOKS, rb.file), 'utf8');

// ---------------------------------------------------------------------------------------
// Normalising the guide's text: the same repairs the runbooks make.

const PH = '\u0000'; // a <placeholder> of the guide, one token whatever it contains

function repairGuide(text: string): string {
  return text
    .replace(/[\u2013\u2014]/g, '--')
    .replace(/[\u2018\u2019\u2032]/g, "'")
    .replace(/[\u201c\u201d\u2033]/g, '"')
    .replace(/(^|\s)-vcpu(?=\s)/g, '$1--vcpus')
    .replace(/(^|\s)--vcpu(?=[\s=])/g, '$1--vcpus')
    .replace(/libvrit/g, 'libvirt')
    .replace(/usbip-0\.17\b/g, 'usbip-0.1.7')
    .replace(/\.tar\.bz(?=\s|$)/g, '.tar.bz2')
    .replace(/~usbip-/g, '~/usbip-')
    .replace(/\bBOOTPROT=/g, 'BOOTPROTO=');
}

/** Shell-like words: quotes removed, escapes resolved, operators as their own words. */
function words(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let has = false;
  const push = () => {
    if (has) out.push(cur);
    cur = '';
    has = false;
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'") {
      const j = line.indexOf("'", i + 1);
      const end = j < 0 ? line.length : j;
      cur += line.slice(i + 1, end);
      has = true;
      i = end;
    } else if (c === '"') {
      i++;
      for (; i < line.length && line[i] !== '"'; i++) {
        if (line[i] === '\\' && i + 1 < line.length && '"\\$`'.includes(line[i + 1]!)) i++;
        cur += line[i];
      }
      has = true;
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      has = true;
    } else if (/\s/.test(c)) {
      push();
    } else if (c === '$' && line[i + 1] === '(') {
      // $( ... ) and $(( ... )) stay inside the word
      let depth = 0;
      let j = i + 1;
      for (; j < line.length; j++) {
        if (line[j] === '(') depth++;
        else if (line[j] === ')' && --depth === 0) break;
      }
      cur += line.slice(i, j + 1);
      has = true;
      i = j;
    } else if ('|&;'.includes(c)) {
      push();
      const two = line.slice(i, i + 2);
      if (two === '||' || two === '&&') {
        out.push(two);
        i++;
      } else out.push(c);
    } else {
      cur += c;
      has = true;
    }
  }
  push();
  // ./tool and tool are the same; --opt=value is --opt value; -y answers a prompt; mkdir -p
  const res: string[] = [];
  for (const w0 of out) {
    const w = w0.startsWith('./') ? w0.slice(2) : w0;
    if (w === '-y' || w === '--assumeyes') continue;
    if (w === '-p' && res[res.length - 1] === 'mkdir') continue;
    const m = /^(--[A-Za-z0-9-]+)=(.*)$/s.exec(w);
    if (m) res.push(m[1]!, m[2]!);
    else res.push(w);
  }
  return res;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A runbook word as a regex: its shell expansions ($X, ${X...}, $(...)) match anything. */
function runbookWordRe(w: string): RegExp {
  let re = '';
  for (let i = 0; i < w.length; ) {
    if (w[i] === '$') {
      let j = i + 1;
      if (w[j] === '{') j = w.indexOf('}', j) + 1 || w.length;
      else if (w[j] === '(') {
        let depth = 0;
        for (; j < w.length; j++) {
          if (w[j] === '(') depth++;
          else if (w[j] === ')' && --depth === 0) break;
        }
        j++;
      } else while (j < w.length && /[A-Za-z0-9_]/.test(w[j]!)) j++;
      re += '.*';
      i = j;
    } else re += escapeRe(w[i++]!);
  }
  return new RegExp(`^${re}$`, 's');
}

function guideWordRe(w: string): RegExp {
  return new RegExp(`^${w.split(PH).map(escapeRe).join('.*')}$`, 's');
}

function sameWord(g: string, r: string): boolean {
  if (g === r) return true;
  return runbookWordRe(r).test(g.split(PH).join('X')) || (g.includes(PH) && guideWordRe(g).test(r));
}

function guideWords(cmd: string): string[] {
  return words(repairGuide(cmd).replace(/<[^<>]+>/g, PH));
}

/** Lines of shell, continuation lines joined. */
function shellLines(text: string): string[] {
  return text.replace(/\\\n/g, ' ').split('\n');
}

function containsSequence(hay: string[], needle: string[]): boolean {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let k = 0; k < needle.length; k++) if (!sameWord(needle[k]!, hay[i + k]!)) continue outer;
    return true;
  }
  return false;
}

/** Commands the guide shows rather than runs: they are displayed, with the reason in the prose. */
const DISPLAYED_COMMANDS: Array<{ match: RegExp; why: string }> = [
  { match: /^qemu-kvm -usb -usbdevice host:/, why: 'the QEMU option libvirt generates for a USB hostdev' },
  { match: /^\/usr\/libexec\/qemu-kvm -M rhel6\.0\.0 /, why: 'the command line libvirt generated; running it by hand would start a second QEMU on a managed guest\'s disk' },
];

function commandMiss(rb: Runbook, entry: GuideEntry, cmd: string): string | undefined {
  const fixed = repairGuide(cmd);
  const src = sourceOf(rb);
  if (/^vi\s/.test(fixed)) {
    const target = fixed.replace(/^vi\s+/, '').trim();
    const files = blocksOf(rb).filter((b) => b.kind === 'file').map((b) => path.basename(b.file!));
    const ok = /^<.*>$/.test(target) ? files.length > 0 : files.some((f) => runbookWordRe(f).test(target));
    return ok ? undefined : `"${cmd}" has no file block writing ${target}`;
  }
  if (/^virsh edit\b/.test(fixed)) {
    // An edit the guide makes (a config in "virsh edit" context) is replayed with virt-xml or
    // an XML file and virsh define/attach-device; a mere mention (3.3) is explained.
    const edits = entry.configs.some((c) => /virsh edit/.test(c.path_or_context));
    const replayable = executable(rb).some((b) => /\bvirt-xml\b|\bvirsh (define|attach-device)\b/.test(b.content));
    if (!src.includes('virsh edit')) return `"${cmd}" is not explained`;
    return !edits || replayable ? undefined : `"${cmd}" is not replaced by virt-xml / virsh define`;
  }
  const displayed = DISPLAYED_COMMANDS.find((d) => d.match.test(fixed));
  if (displayed) {
    const flat = (s: string) => s.replace(/\s+/g, ' ').trim();
    const ok = blocksOf(rb).some((b) => b.kind === 'display' && flat(b.content).includes(flat(fixed)));
    return ok ? undefined : `"${cmd}" (${displayed.why}) is not shown in a display block`;
  }
  const needle = guideWords(cmd);
  for (const b of executable(rb)) {
    for (const line of shellLines(b.content)) {
      if (containsSequence(words(line), needle)) return undefined;
    }
  }
  return `"${cmd}" is in no command or check block`;
}

/** A config line of the guide is on a line of some block (file, display or shell). */
function configLineMiss(rb: Runbook, line: string): boolean {
  const want = line.replace(/\s+/g, ' ').trim();
  for (const b of blocksOf(rb)) {
    for (const l of b.content.split('\n')) {
      const have = l.replace(/\s+/g, ' ').trim();
      if (have === want) return false;
      if (have.includes('$') && runbookWordRe(have).test(want)) return false;
    }
  }
  return true;
}

function configLines(text: string): string[] {
  return repairGuide(text)
    .replace(/<!--.*?-->/g, '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && l !== '...' && l !== '.');
}

// ---------------------------------------------------------------------------------------

test('every runbook validates with no diagnostics', () => {
  const cat = loadCatalog(RUNBOOKS);
  const diags = cat.entries.flatMap((e) => e.diagnostics.map((d) => `${d.file}:${d.line} ${d.code} ${d.message}`));
  assert.deepEqual(diags, []);
  assert.ok(cat.entries.filter((e) => e.file.startsWith('guide/')).length >= SECTIONS.length);
});

test('coverage: every command, config and sample output of the guide is in the runbook of its section', () => {
  const catalog = JSON.parse(fs.readFileSync(GUIDE_CATALOG, 'utf8')) as GuideEntry[];
  const rbs = guideRunbooks();
  const misses: string[] = [];
  let commands = 0;
  let configs = 0;
  let outputs = 0;
  for (const entry of catalog) {
    const rb = runbookFor(rbs, entry.section);
    for (const cmd of entry.commands) {
      commands++;
      const miss = commandMiss(rb, entry, cmd);
      if (miss) misses.push(`${entry.section} ${rb.id}: command ${miss}`);
    }
    for (const cfg of entry.configs) {
      configs++;
      const where = cfg.path_or_context;
      if (where.startsWith('/')) {
        const ok = blocksOf(rb).some((b) => b.kind === 'file' && runbookWordRe(b.file!).test(where));
        if (!ok) misses.push(`${entry.section} ${rb.id}: no file block writes ${where}`);
      }
      // The guide closes its USB <hostdev> with </disk>; the runbook closes it properly.
      const fix = (t: string) => (/<hostdev/.test(t) ? t.replace('</disk>', '</hostdev>') : t);
      for (const text of [cfg.before, cfg.after]) {
        if (text === null) continue;
        for (const line of configLines(fix(text))) {
          if (configLineMiss(rb, line)) misses.push(`${entry.section} ${rb.id}: config ${where}: line ${JSON.stringify(line)} is in no block`);
        }
      }
    }
    for (const out of entry.outputs) {
      outputs++;
      const flat = (s: string) => s.replace(/\s+/g, ' ').trim();
      const shown = blocksOf(rb).filter((b) => b.kind === 'display').flatMap((b) => b.content.split('\n').map(flat));
      for (const line of out.split('\n').map(flat).filter(Boolean)) {
        if (!shown.includes(flat(repairGuide(line)))) misses.push(`${entry.section} ${rb.id}: output line ${JSON.stringify(line)} is in no display block`);
      }
    }
  }
  console.log(`guide coverage: ${commands} commands, ${configs} configs, ${outputs} outputs checked; ${misses.length} missing`);
  assert.deepEqual(misses, [], `missing from the runbooks:\n${misses.join('\n')}`);
  assert.equal(commands, 145);
  assert.equal(configs, 13);
  assert.equal(outputs, 25);
});

test('sections: one runbook per section, in order; every step checked; destructive commands confirmed', () => {
  const rbs = guideRunbooks();
  assert.deepEqual(rbs.map((r) => r.section), SECTIONS, 'the guide runbooks, in catalog order');
  const ids = new Set<string>();
  const problems: string[] = [];
  for (const rb of rbs) {
    if (!new RegExp(`^kvm-${rb.section!.replace('.', '\\.')}-[a-z0-9-]+$`).test(rb.id)) problems.push(`${rb.id}: id does not start with kvm-${rb.section}-`);
    if (ids.has(rb.id)) problems.push(`${rb.id}: duplicate id`);
    ids.add(rb.id);
    if (!/Seo Jin-woo/.test(sourceOf(rb)) || !/2011/.test(sourceOf(rb))) problems.push(`${rb.id}: does not name the guide (Seo Jin-woo, 2011)`);
    for (const step of rb.steps) {
      if (step.checks.length === 0) problems.push(`${rb.id}: step ${step.id} has no check`);
    }
    for (const b of blocksOf(rb)) {
      for (const cap of b.requires ?? []) {
        if (!CAPABILITIES.includes(cap)) problems.push(`${rb.id}: block ${b.id} requires unknown capability ${cap}`);
      }
      if (b.kind !== 'command') continue;
      const code = b.content.split('\n').filter((l) => !/^\s*#/.test(l)).join('\n');
      const destructive = [
        /network restart/,
        /NetworkManager stop|systemctl (stop|disable)[^\n]*NetworkManager|chkconfig[^\n]*NetworkManager off/,
        /systemctl restart networking|\bifdown\b|nmcli (connection|con) (up|down)/,
        /virsh (net-)?destroy\b/,
        /virsh undefine\b/,
        /nodedev-(detach|dettach)\b/,
        /\b(insmod|modprobe|rmmod)\b/,
      ].find((re) => re.test(code));
      if (destructive && !b.confirm) problems.push(`${rb.id}: block ${b.id} runs ${destructive} without confirm=true`);
    }
  }
  // Section 8 is empty in the guide: the runbook says it goes beyond it.
  const eight = rbs.find((r) => r.section === '8')!;
  if (!/goes beyond\s+the guide|beyond the guide/i.test(sourceOf(eight))) problems.push(`${eight.id}: does not say it goes beyond the guide`);
  if (!/virsh migrate --live/.test(executable(eight).map((b) => b.content).join('\n'))) problems.push(`${eight.id}: no virsh migrate --live`);
  assert.deepEqual(problems, []);
});

test('lab replay: no failed step, >= 90% of the guide steps executed, skips only for capabilities or platforms', { timeout: 10 * 60_000 }, async () => {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-guide-data-'));
  const started = Date.now();
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/stepwise.js'), 'run', '--all', '--target', 'lab', '--yes', '--runbooks', RUNBOOKS, '--data', data], {
      cwd: ROOT,
      env: { ...process.env, STEPWISE_LOG: 'warn' },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('close', (c) => resolve({ code: c, stdout: out, stderr: err }));
  });
  fs.rmSync(data, { recursive: true, force: true });
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  const lines = stdout.trimEnd().split('\n');
  const failedSteps = lines.filter((l) => /^\[\d+\/\d+\] .*: failed/.test(l));
  assert.equal(code, 0, `exit ${code}\n${failedSteps.join('\n')}\n${stderr.slice(-2000)}`);
  const last = lines[lines.length - 1]!;
  assert.match(last, /^(\d+) passed, 0 failed, (\d+) skipped$/);

  // The --all table: "runbook  passed  failed  skipped ... warnings" (columns found by name),
  // then "skipped <step>: <reason>" under a runbook's row.
  const rows: Array<{ id: string; passed: number; failed: number; skipped: number; warnings: number; blocked: number }> = [];
  const skips: Array<{ runbook: string; step: string; reason: string }> = [];
  const head = lines.findIndex((l) => /^runbook(\s+[a-z]+)+$/.test(l) && /\bpassed\b.*\bfailed\b.*\bskipped\b.*\bwarnings\b/.test(l));
  assert.ok(head >= 0, 'the summary table is printed');
  const columns = lines[head]!.trim().split(/\s+/).slice(1);
  const col = (name: string, counts: string[]) => (columns.includes(name) ? Number(counts[columns.indexOf(name)]) : 0);
  for (const l of lines.slice(head + 1, -1)) {
    const row = new RegExp(`^(\\S+)((?:\\s+\\d+){${columns.length}})$`).exec(l);
    if (row) {
      const counts = row[2]!.trim().split(/\s+/);
      rows.push({ id: row[1]!, passed: col('passed', counts), failed: col('failed', counts), skipped: col('skipped', counts), warnings: col('warnings', counts), blocked: col('blocked', counts) });
    }
    const skip = /^\s+skipped ([^:]+): (.*)$/.exec(l);
    if (skip) skips.push({ runbook: rows[rows.length - 1]!.id, step: skip[1]!, reason: skip[2]! });
  }
  const guideIds = new Set(guideRunbooks().map((r) => r.id));
  const guide = rows.filter((r) => guideIds.has(r.id));
  assert.equal(guide.length, guideIds.size, 'every guide runbook ran');
  const executed = guide.reduce((n, r) => n + r.passed + r.failed, 0);
  const skipped = guide.reduce((n, r) => n + r.skipped, 0);
  const warnings = guide.reduce((n, r) => n + r.warnings, 0);
  const ratio = executed / (executed + skipped);
  console.log(`guide lab replay: ${last}; guide steps executed ${executed}/${executed + skipped} = ${(ratio * 100).toFixed(1)}%, ${warnings} warnings, ${seconds}s`);
  for (const s of skips) console.log(`  skipped ${s.runbook} ${s.step}: ${s.reason}`);
  assert.ok(guide.every((r) => r.failed === 0 && r.blocked === 0), JSON.stringify(guide.filter((r) => r.failed || r.blocked)));
  assert.ok(ratio >= 0.9, `only ${(ratio * 100).toFixed(1)}% of the guide's steps were executed`);

  // The two-host sections ran on two hosts of the one lab: the first role on the lab itself
  // (host1, built up by the earlier sections), the second on lab host2 over SSH.
  for (const [id, roles] of [['kvm-6-usb-redirector', 'server=lab,client=lab:host2'], ['kvm-7-usbip', 'server=lab,client=lab:host2'], ['kvm-8-live-migration', 'source=lab,destination=lab:host2']] as const) {
    assert.match(stdout, new RegExp(`^run \\S+ ${id} on ${roles}$`, 'm'), `${id} ran on ${roles}`);
  }
  // Section 8 really migrated: every step ran and passed, the move there and back included.
  const eight = guide.find((r) => r.id === 'kvm-8-live-migration')!;
  const eightSteps = guideRunbooks().find((r) => r.id === 'kvm-8-live-migration')!.steps.length;
  assert.deepEqual({ passed: eight.passed, skipped: eight.skipped }, { passed: eightSteps, skipped: 0 }, 'every step of section 8 passed');
  assert.match(stdout, /\] migrate-the-running-guest: passed/);
  assert.match(stdout, /\] bring-the-guest-back: passed/);

  // A skipped step's reason joins its blocks' reasons with "; " (a platform reason has one too).
  const platform = 'for [a-z0-9]+(?:, [a-z0-9]+)* only; target \\S+ is \\S+';
  const capability = 'needs ([a-z0-9-]+(?:, [a-z0-9-]+)*), which target \\S+ lacks';
  const allowed = new RegExp(`^(?:(?:${platform}|${capability})(?:; |$))+$`);
  const bad: string[] = [];
  for (const s of skips) {
    const caps = [...s.reason.matchAll(new RegExp(capability, 'g'))].flatMap((m) => m[1]!.split(', '));
    const unknown = caps.filter((c) => !CAPABILITIES.includes(c));
    if (!allowed.test(s.reason) || unknown.length) bad.push(`${s.runbook} ${s.step}: ${s.reason}`);
  }
  assert.deepEqual(bad, [], 'steps skipped for another reason than a missing capability or another platform');
});

noLeaks();
