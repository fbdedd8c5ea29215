// Masks secret values in a byte stream, even when a secret is split across reads. Pure.

export const MASK = '****';
const MASK_BYTES = Buffer.from(MASK);
// Shorter values would mask ordinary text everywhere (a 1-character "secret").
const MIN_SECRET_LENGTH = 3;
// A held tail this long is too likely the start of the secret to show.
const RELEASE_MASKED_FROM = 4;

export class SecretMasker {
  private readonly secrets: Buffer[];
  private pending: Buffer = Buffer.alloc(0);

  constructor(secrets: readonly string[]) {
    this.secrets = [...new Set(secrets)]
      .filter((s) => s.length >= MIN_SECRET_LENGTH)
      .map((s) => Buffer.from(s))
      .sort((a, b) => b.length - a.length);
  }

  get active(): boolean {
    return this.secrets.length > 0;
  }

  push(chunk: Buffer): Buffer {
    if (!this.active) return chunk;
    const data = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const out: Buffer[] = [];
    let from = 0;
    for (;;) {
      let best = -1;
      let bestLen = 0;
      for (const s of this.secrets) {
        const i = data.indexOf(s, from);
        if (i >= 0 && (best < 0 || i < best)) {
          best = i;
          bestLen = s.length;
        }
      }
      if (best < 0) break;
      out.push(data.subarray(from, best), MASK_BYTES);
      from = best + bestLen;
    }
    const hold = this.heldSuffix(data, from);
    out.push(data.subarray(from, data.length - hold));
    this.pending = Buffer.from(data.subarray(data.length - hold));
    return Buffer.concat(out);
  }

  flush(): Buffer {
    const rest = this.pending;
    this.pending = Buffer.alloc(0);
    return rest;
  }

  /**
   * Gives up waiting for the rest of a secret: a short held prefix is ordinary output, but one
   * of RELEASE_MASKED_FROM or more bytes of a secret is masked rather than shown.
   */
  release(): Buffer {
    const rest = this.flush();
    return rest.length >= RELEASE_MASKED_FROM ? MASK_BYTES : rest;
  }

  /** Length of the longest tail of data[from..] that is a proper prefix of a secret. */
  private heldSuffix(data: Buffer, from: number): number {
    const avail = data.length - from;
    let best = 0;
    for (const s of this.secrets) {
      for (let k = Math.min(s.length - 1, avail); k > best; k--) {
        if (data.compare(s, 0, k, data.length - k, data.length) === 0) {
          best = k;
          break;
        }
      }
    }
    return best;
  }
}

export function maskText(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of [...secrets].filter((v) => v.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length)) {
    out = out.split(s).join(MASK);
  }
  return out;
}
