// Fence info string parsing (pure): "sh {id=install-bridge timeout=120}" → {lang, attrs}.
//
// Accepted forms (Runme's):
//   ```sh {id=install-bridge timeout=120}
//   ```bash { name=setup interactive=false }
//   ```sh {"id":"install-bridge","timeout":120}
//   ```sh {hint="Run \"ip link\" first" expect="^br0\s" verify}
//   ```{id=notes}                 (no language)
//
// Typing rules, deliberately lossless so the parser can type-check each attribute itself:
// - key=value form: a bare key is `true`; every value is a string exactly as written
//   (`timeout=120` → "120", `mode=0644` → "0644"). Double-quoted values unescape only
//   `\"` and `\\`; any other backslash sequence is kept verbatim so regexes like `^br0\s`
//   survive. Single-quoted values are taken verbatim. An unquoted value may contain `${NAME}`
//   (file=${WORKDIR}/app.conf); `=`, quotes and other braces in it need quoting.
// - JSON form: numbers and booleans keep their JSON type; an array of strings/numbers is
//   joined with commas (`"os":["linux","darwin"]` → "linux,darwin"); null and objects are errors.
// Text after the language that is not a single `{...}` group is an error (Runme requires braces).

export type AttrValue = string | boolean | number;

export interface FenceInfo {
  /** Fence language as written ('' when none). */
  lang: string;
  attrs: Record<string, AttrValue>;
  /** Why the attribute group could not be parsed; attrs is then empty. */
  error?: string;
}

const KEY_START = /[A-Za-z_]/;
const KEY_CHAR = /[A-Za-z0-9_.-]/;
const SPACE = /\s/;

export function parseFenceInfo(info: string): FenceInfo {
  const text = info.trim();
  let i = 0;
  while (i < text.length && !SPACE.test(text[i]!) && text[i] !== '{') i++;
  const lang = text.slice(0, i);
  const rest = text.slice(i).trim();
  if (rest === '') return { lang, attrs: {} };
  if (!rest.startsWith('{')) {
    return { lang, attrs: {}, error: `text after the language must be an attribute group in braces, like {id=name}; found ${quote(rest)}` };
  }
  const inner = rest.slice(1).trimStart();
  const result = inner.startsWith('"') ? parseJsonGroup(rest) : parseKeyValueGroup(rest);
  if (typeof result === 'string') return { lang, attrs: {}, error: result };
  return { lang, attrs: result };
}

function quote(s: string): string {
  return JSON.stringify(s.length > 60 ? s.slice(0, 57) + '...' : s);
}

function parseJsonGroup(group: string): Record<string, AttrValue> | string {
  let raw: unknown;
  try {
    raw = JSON.parse(group);
  } catch (e) {
    return `attribute group is not valid JSON (${(e as Error).message})`;
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'attribute group must be a JSON object';
  const attrs: Record<string, AttrValue> = Object.create(null);
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (!isKey(key)) return `attribute name ${quote(key)} is not a valid name`;
    if (typeof value === 'string' || typeof value === 'boolean') attrs[key] = value;
    else if (typeof value === 'number' && Number.isFinite(value)) attrs[key] = value;
    else if (Array.isArray(value) && value.every((v) => typeof v === 'string' || typeof v === 'number')) attrs[key] = value.join(',');
    else return `attribute ${key} has an unsupported JSON value (use a string, number, boolean or list of strings)`;
  }
  return { ...attrs };
}

function isKey(key: string): boolean {
  if (key.length === 0 || !KEY_START.test(key[0]!)) return false;
  for (const c of key) if (!KEY_CHAR.test(c)) return false;
  return true;
}

function parseKeyValueGroup(group: string): Record<string, AttrValue> | string {
  // group starts with '{'; a null-prototype object so a key like __proto__ is just a key
  const attrs: Record<string, AttrValue> = Object.create(null);
  let i = 1;
  const n = group.length;
  const skipSpace = () => {
    while (i < n && SPACE.test(group[i]!)) i++;
  };
  for (;;) {
    skipSpace();
    if (i >= n) return 'attribute group has no closing }';
    if (group[i] === '}') {
      i++;
      skipSpace();
      if (i < n) return `unexpected text after the closing }: ${quote(group.slice(i))}`;
      return { ...attrs };
    }
    if (!KEY_START.test(group[i]!)) return `expected an attribute name at ${quote(group.slice(i))}`;
    const keyStart = i;
    while (i < n && KEY_CHAR.test(group[i]!)) i++;
    const key = group.slice(keyStart, i);
    let value: AttrValue;
    if (group[i] === '=') {
      i++;
      if (i >= n) return `attribute ${key} has no value`;
      const c = group[i]!;
      if (c === '"') {
        i++;
        let v = '';
        let closed = false;
        while (i < n) {
          const d = group[i]!;
          if (d === '\\' && i + 1 < n && (group[i + 1] === '"' || group[i + 1] === '\\')) {
            v += group[i + 1];
            i += 2;
            continue;
          }
          if (d === '"') {
            closed = true;
            i++;
            break;
          }
          v += d;
          i++;
        }
        if (!closed) return `attribute ${key} has an unterminated "quoted" value`;
        value = v;
      } else if (c === "'") {
        const end = group.indexOf("'", i + 1);
        if (end < 0) return `attribute ${key} has an unterminated 'quoted' value`;
        value = group.slice(i + 1, end);
        i = end + 1;
      } else {
        const start = i;
        while (i < n && !SPACE.test(group[i]!) && group[i] !== '}') {
          if (group[i] === '$' && group[i + 1] === '{') {
            // ${NAME} inside an unquoted value (file=${WORKDIR}/x.conf)
            const close = group.indexOf('}', i + 2);
            if (close < 0 || /[\s{"']/.test(group.slice(i + 2, close))) {
              return `attribute ${key} has an unterminated \${...} in its value`;
            }
            i = close + 1;
            continue;
          }
          if (group[i] === '"' || group[i] === "'" || group[i] === '{' || group[i] === '=') {
            return `attribute ${key} has a stray ${group[i]} in its value; quote the value with "..."`;
          }
          i++;
        }
        value = group.slice(start, i);
        if (value === '') return `attribute ${key} has no value`;
      }
      if (i < n && !SPACE.test(group[i]!) && group[i] !== '}') {
        return `expected a space between attributes at ${quote(group.slice(i))}`;
      }
    } else if (i >= n || SPACE.test(group[i]!) || group[i] === '}') {
      value = true;
    } else {
      return `unexpected ${quote(group[i]!)} after attribute name ${key}`;
    }
    if (Object.prototype.hasOwnProperty.call(attrs, key)) return `attribute ${key} is given twice`;
    attrs[key] = value;
  }
}
