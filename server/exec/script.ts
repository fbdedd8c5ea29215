// Turns blocks into the shell text the executor stages and sources. Pure.
import type { Block } from '../runbook/model.ts';

/** Single-quotes a value for bash. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

// A terminal in canonical mode takes lines of up to 4095 bytes: values go in pieces whose
// base64 (4/3 of this) fits with room to spare.
const VAR_PIECE_BYTES = 2048;

/**
 * What the executor types to the shell's __sw_vars (see integration.ts), echo off: each
 * variable as base64 pieces (no byte of a value can act as a terminal control character),
 * the secret names, then an empty line.
 */
export function varsPayload(vars: Record<string, string>, secretNames: ReadonlySet<string>): string {
  const lines: string[] = [];
  for (const [name, value] of Object.entries(vars)) {
    const bytes = Buffer.from(value, 'utf8');
    for (let i = 0; i === 0 || i < bytes.length; i += VAR_PIECE_BYTES) {
      lines.push(`${i === 0 ? 'v' : 'a'} ${name} ${bytes.subarray(i, i + VAR_PIECE_BYTES).toString('base64')}`);
    }
    if (secretNames.has(name)) lines.push(`s ${name}`);
  }
  return lines.join('\r') + '\r\r';
}

/** `${NAME}` substitution for file blocks: only declared variables; anything else stays. */
export function substitute(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (all, name: string) =>
    Object.prototype.hasOwnProperty.call(vars, name) ? vars[name] : all,
  );
}

/**
 * A file block as a script: back up what was there (once: the backup keeps the original),
 * write the new content atomically, set its mode, and show the diff. Secret variables are
 * substituted by the shell from its environment, so the staged script never holds them.
 */
export function fileScript(block: Block, vars: Record<string, string>, delimiterSalt: string, secretNames: ReadonlySet<string> = new Set()): string {
  if (!block.file) throw new Error(`block ${block.id} is not a file block`);
  const plain = Object.fromEntries(Object.entries(vars).filter(([k]) => !secretNames.has(k)));
  const content = substitute(block.content, plain);
  const secretsUsed = [...secretNames].filter((n) => content.includes(`\${${n}}`));
  const fillSecrets = secretsUsed.length
    ? `__sw_c=$(cat "$__sw_new"; printf x); __sw_c=\${__sw_c%x}\n${secretsUsed.map((n) => `__sw_c=\${__sw_c//'\${${n}}'/"$${n}"}`).join('\n')}\nprintf '%s' "$__sw_c" > "$__sw_new"; unset __sw_c\n`
    : '';
  let delim = `STEPWISE_EOF_${delimiterSalt}`;
  while (content.includes(delim)) delim += '_';
  const f = shellQuote(substitute(block.file, vars));
  const mode = block.mode ? `chmod ${block.mode} "$__sw_new"\n` : '';
  return `__sw_f=${f}
__sw_new="$__sw_f.stepwise-new"
__sw_prev="$(mktemp)"
mkdir -p "$(dirname "$__sw_f")"
__sw_had=0
if [ -e "$__sw_f" ]; then __sw_had=1; cp -p "$__sw_f" "$__sw_prev"; [ -e "$__sw_f.stepwise-bak" ] || cp -p "$__sw_f" "$__sw_f.stepwise-bak"; fi
cat > "$__sw_new" <<'${delim}'
${content}
${delim}
${fillSecrets}${mode}if [ -e "$__sw_f" ] && [ -z "${block.mode ?? ''}" ]; then chmod --reference="$__sw_f" "$__sw_new"; fi
mv -f "$__sw_new" "$__sw_f"
if [ "$__sw_had" = 1 ]; then diff -u --label "$__sw_f (before)" --label "$__sw_f" "$__sw_prev" "$__sw_f" || true; else echo "created $__sw_f"; fi
rm -f "$__sw_prev"
unset __sw_f __sw_new __sw_prev __sw_had`;
}

/** The text a block runs as. */
export function blockScript(block: Block, vars: Record<string, string>, salt: string, secretNames?: ReadonlySet<string>): string {
  return block.kind === 'file' ? fileScript(block, vars, salt, secretNames) : block.content;
}
