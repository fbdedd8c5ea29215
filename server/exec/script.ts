// Turns blocks into the shell text the executor stages and sources. Pure.
import type { Block } from '../runbook/model.ts';

/** Single-quotes a value for bash. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The internal block that exports the run's variables before the first real block. */
export function exportScript(vars: Record<string, string>): string {
  return Object.entries(vars)
    .map(([k, v]) => `export ${k}=${shellQuote(v)}`)
    .join('\n');
}

/** `${NAME}` substitution for file blocks: only declared variables; anything else stays. */
export function substitute(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (all, name: string) =>
    Object.prototype.hasOwnProperty.call(vars, name) ? vars[name] : all,
  );
}

/**
 * A file block as a script: back up what was there (once: the backup keeps the original),
 * write the new content atomically, set its mode, and show the diff.
 */
export function fileScript(block: Block, vars: Record<string, string>, delimiterSalt: string): string {
  if (!block.file) throw new Error(`block ${block.id} is not a file block`);
  const content = substitute(block.content, vars);
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
${mode}if [ -e "$__sw_f" ] && [ -z "${block.mode ?? ''}" ]; then chmod --reference="$__sw_f" "$__sw_new"; fi
mv -f "$__sw_new" "$__sw_f"
if [ "$__sw_had" = 1 ]; then diff -u --label "$__sw_f (before)" --label "$__sw_f" "$__sw_prev" "$__sw_f" || true; else echo "created $__sw_f"; fi
rm -f "$__sw_prev"
unset __sw_f __sw_new __sw_prev __sw_had`;
}

/** The text a block runs as. */
export function blockScript(block: Block, vars: Record<string, string>, salt: string): string {
  return block.kind === 'file' ? fileScript(block, vars, salt) : block.content;
}
