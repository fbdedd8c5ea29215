// The bash shell-integration script a session starts with. Pure: returns text.
// It frames every block the executor runs with nonce-carrying markers (see markers.ts):
// C before the block's output, D with its exit code after; A when the last command finished,
// P once the prompt is drawn (readline reads: the shell is idle), B when a typed command is
// accepted (busy), R when __sw_vars reads the run's variables from the terminal.

export function integrationScript(nonce: string): string {
  if (!/^[A-Za-z0-9]+$/.test(nonce)) throw new Error('nonce must be alphanumeric');
  const osc = (body: string) => `\\033]633;${body}\\007`;
  return `# Stepwise shell integration (generated; staged in the session folder, which is removed
# when the session ends). It holds no variable values: those arrive over the terminal.
HISTCONTROL=ignoreboth
shopt -s extglob checkwinsize
bind 'set bell-style none' 2>/dev/null
__sw_ps1='\\[\\e[1;32m\\]\\u@\\h\\[\\e[0m\\]:\\[\\e[1;34m\\]\\w\\[\\e[0m\\]\\$ '
# P, at the end of the prompt: readline is reading. Typing before it would be echoed by the
# terminal ahead of the prompt, so the executor waits for it.
PS1="$__sw_ps1"'\\[${osc(`P;${nonce}`)}\\]'
__sw_prompt() { local rc=$?; printf '${osc(`A;${nonce};%s`)}' "$rc"; return $rc; }
PROMPT_COMMAND=__sw_prompt
PS0=$'\\033]633;B;${nonce}\\007'
# Names and values of the run's secret variables: kept in this shell's memory only, so that
# no saved shell state ever holds them (see __sw_env).
__sw_secret_names=() __sw_secret_values=()
# __sw_erase TYPED: erase the line the executor typed (the prompt plus TYPED), so the terminal
# (and its recording) reads as if a person had typed what follows.
__sw_erase() {
  local p="\${__sw_ps1@P}"
  # The prompt's visible width: drop what PS1 marks invisible (between \\001 and \\002).
  local v=\${p//$'\\001'*([^$'\\002'])$'\\002'/}
  local rows=$(( (\${#v} + \${#1} + COLUMNS - 1) / COLUMNS ))
  (( rows > 0 && rows < LINES )) && printf '\\033[%dA\\r\\033[J' "$rows"
  __sw_p=\${p//[$'\\001\\002']/}
}
# __sw_show FILE: show FILE's lines after the prompt, in place of the typed "__sw_run" line.
__sw_show() {
  local l first=1
  __sw_erase " __sw_run $__sw_args"
  while IFS= read -r l || [[ -n $l ]]; do
    if (( first )); then printf '%s%s\\n' "$__sw_p" "$l"; first=0; else printf '> %s\\n' "$l"; fi
  done < "$1"
}
# __sw_vars NAME...: read the run's variables from the terminal with echo off, never from a
# file: lines "v NAME BASE64" (NAME's value) and "a NAME BASE64" (more of it: long values
# come in pieces that fit a terminal line), "s NAME" (NAME is secret), then an empty line.
__sw_vars() {
  local __sw_l __sw_n __sw_v
  __sw_erase " __sw_vars $*"
  printf '%s# stepwise: export %s\\n' "$__sw_p" "$*"
  stty -echo 2>/dev/null
  printf '${osc(`R;${nonce}`)}'
  while IFS= read -r __sw_l && [[ -n $__sw_l ]]; do
    __sw_n=\${__sw_l#? }; __sw_n=\${__sw_n%% *}
    [[ $__sw_n =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || continue
    case $__sw_l in
      [va]\\ *)
        __sw_v=$(printf '%s' "\${__sw_l##* }" | base64 -d; printf x)
        if [[ $__sw_l == a* ]]; then export "$__sw_n=\${!__sw_n}\${__sw_v%x}"; else export "$__sw_n=\${__sw_v%x}"; fi ;;
      s\\ *) __sw_secret_names+=("$__sw_n") ;;
    esac
  done
  stty echo 2>/dev/null
  for __sw_n in "\${__sw_secret_names[@]}"; do __sw_secret_values+=("\${!__sw_n}"); done
}
# __sw_env: the exported environment, NUL-separated, without the secret variables and without
# any variable whose value contains a secret.
__sw_env() {
  local __sw_e __sw_s
  for __sw_e in $(compgen -e); do
    for __sw_s in "\${__sw_secret_names[@]}"; do [[ $__sw_e == "$__sw_s" ]] && continue 2; done
    for __sw_s in "\${__sw_secret_values[@]}"; do [[ -n $__sw_s && \${!__sw_e} == *"$__sw_s"* ]] && continue 2; done
    printf '%s=%s\\0' "$__sw_e" "\${!__sw_e}"
  done
}
# __sw_run SEQ MODE FILE [SHOW]: show SHOW (default FILE), then run FILE and report its exit
# code. MODE "src" sources it in this shell, so cd, exports and functions persist, stopping
# at its first failing command like set -e -o pipefail; MODE "sub" runs it in a subshell
# (checks: they may read the shell's state and "exit 1", but change nothing).
__sw_run() {
  local __sw_args="$1 $2 '$3'\${4:+ '$4'}"
  __sw_show "\${4:-$3}"
  printf '${osc(`C;${nonce};%s`)}' "$1"
  if [[ $2 == sub ]]; then
    ( set -eo pipefail; . "$3" )
    __sw_rc=$?
  else
    local __sw_pf=+o; [[ -o pipefail ]] && __sw_pf=-o
    # The environment before the first block, to tell later what the runbook exported.
    [[ -e \${3%/*}/env0 ]] || __sw_env > "\${3%/*}/env0"
    set -o pipefail
    trap '__sw_rc=$?; trap - ERR; return $__sw_rc' ERR
    . "$3"
    __sw_rc=$?
    trap - ERR
    set $__sw_pf pipefail
    # What a resumed run restores: the exported environment and working directory.
    __sw_env > "\${3%/*}/env"; printf '%s' "$PWD" > "\${3%/*}/cwd"
  fi
  printf '${osc(`D;${nonce};%s;%s`)}' "$1" "$__sw_rc"
}
`;
}
