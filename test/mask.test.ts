// Secret masking on a byte stream, including secrets split across reads.
import { noLeaks } from './helpers/leaks.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SecretMasker, maskText } from '../server/terminal/mask.ts';

const feed = (m: SecretMasker, parts: string[]) => parts.map((p) => m.push(Buffer.from(p)).toString()).join('') + m.flush().toString();

test('masks whole and split secrets at every split point', () => {
  const text = 'pw=s3cr3t-value and again s3cr3t-value!';
  for (let i = 0; i <= text.length; i++) {
    const out = feed(new SecretMasker(['s3cr3t-value']), [text.slice(0, i), text.slice(i)]);
    assert.equal(out, 'pw=**** and again ****!', `split at ${i}`);
  }
});

test('a prefix that turns out not to be the secret is released on flush', () => {
  const m = new SecretMasker(['hunter2']);
  assert.equal(m.push(Buffer.from('hunt')).toString(), '');
  assert.equal(m.push(Buffer.from('ing')).toString(), 'hunting');
  assert.equal(m.push(Buffer.from('x hun')).toString(), 'x ');
  assert.equal(m.flush().toString(), 'hun');
});

test('overlapping secrets: the longer one wins; too-short secrets are not masked', () => {
  assert.equal(feed(new SecretMasker(['abc', 'abcdef', 'x']), ['abcdefx abc']), '****x ****');
  assert.equal(maskText('token abcdef / abc', ['abc', 'abcdef']), 'token **** / ****');
});

test('no secrets: bytes pass through untouched', () => {
  const m = new SecretMasker([]);
  const b = Buffer.from([0xff, 0x00, 0x1b]);
  assert.equal(m.push(b), b);
});

test('release: a short held prefix is shown, a long one is masked', () => {
  const m = new SecretMasker(['hunter2-secret']);
  assert.equal(m.push(Buffer.from('x hu')).toString(), 'x ');
  assert.equal(m.release().toString(), 'hu');
  assert.equal(m.push(Buffer.from('y hunter')).toString(), 'y ');
  assert.equal(m.release().toString(), '****');
});

noLeaks();
