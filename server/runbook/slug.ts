// Stable GitHub-like heading slugs (pure).
//
// "Install the Bridge (br0)!" → "install-the-bridge-br0"
// "Bridge 네트워크 환경 구성"    → "bridge-네트워크-환경-구성"
//
// Rules: NFC-normalise, lower-case, keep Unicode letters, combining marks, digits, `_` and `-`;
// whitespace becomes `-`; everything else (punctuation, symbols, emoji) is dropped;
// runs of `-` collapse to one and leading/trailing `-` are trimmed.

const DROP = /[^\p{L}\p{M}\p{N}_\s-]/gu;

export function slugify(text: string): string {
  return text
    .normalize('NFC')
    .toLowerCase()
    .replace(DROP, '')
    .trim()
    .replace(/\s+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^-+|-+$/g, '');
}

/** The id of the `index`-th step (1-based): its heading's slug, or `step-N` when that is empty. */
export function stepSlug(text: string, index: number): string {
  return slugify(text) || `step-${index}`;
}
