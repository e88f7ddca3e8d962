# bash completion for sessctl. A thin shim: the candidates come from the binary itself
# (`sessctl __complete -- WORDS...`), which walks its live command tree, so this file never
# needs to change when commands do. Install as bash-completion/completions/sessctl, or
# `source <(sessctl completion bash)`.
_sessctl() {
  local IFS=$'\n'
  local -a words=("${COMP_WORDS[@]:1:COMP_CWORD}")
  COMPREPLY=($("${COMP_WORDS[0]}" __complete -- "${words[@]}" 2>/dev/null))
  # Nothing offered (a free-form value such as --token-file): fall back to file names.
  if [[ ${#COMPREPLY[@]} -eq 0 ]]; then
    compopt -o default 2>/dev/null
  fi
}
complete -F _sessctl sessctl
