// The bash shell-integration script a session starts with. Pure: returns text.
// It frames every block the executor runs with nonce-carrying markers (see markers.ts):
// C before the block's output, D with its exit code after; A before each prompt, B when a
// typed command is accepted, so the session knows whether the shell is idle.

export function integrationScript(nonce: string): string {
  if (!/^[A-Za-z0-9]+$/.test(nonce)) throw new Error('nonce must be alphanumeric');
  const osc = (body: string) => `\\033]633;${body}\\007`;
  return `# Stepwise shell integration (generated; removed once the shell has read it)
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
# __sw_show FILE: replace the typed "__sw_run" line with the block's text after the prompt,
# so the terminal (and its recording) reads as if a person had typed the commands.
__sw_show() {
  local p="\${__sw_ps1@P}" l first=1 typed=" __sw_run $__sw_args"
  # The prompt's visible width: drop what PS1 marks invisible (between \\001 and \\002).
  local v=\${p//$'\\001'*([^$'\\002'])$'\\002'/}
  local rows=$(( (\${#v} + \${#typed} + COLUMNS - 1) / COLUMNS ))
  (( rows > 0 && rows < LINES )) && printf '\\033[%dA\\r\\033[J' "$rows"
  p=\${p//[$'\\001\\002']/}
  while IFS= read -r l || [[ -n $l ]]; do
    if (( first )); then printf '%s%s\\n' "$p" "$l"; first=0; else printf '> %s\\n' "$l"; fi
  done < "$1"
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
    [[ -e \${3%/*}/env0 ]] || env -0 > "\${3%/*}/env0"
    set -o pipefail
    trap '__sw_rc=$?; trap - ERR; return $__sw_rc' ERR
    . "$3"
    __sw_rc=$?
    trap - ERR
    set $__sw_pf pipefail
    # What a resumed run restores: the exported environment and working directory.
    env -0 > "\${3%/*}/env"; printf '%s' "$PWD" > "\${3%/*}/cwd"
  fi
  printf '${osc(`D;${nonce};%s;%s`)}' "$1" "$__sw_rc"
}
`;
}
