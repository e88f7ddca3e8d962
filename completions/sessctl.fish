# fish completion for sessctl. A thin shim: the candidates come from the binary itself
# (`sessctl __complete -- WORDS...`), which walks its live command tree. Install in
# fish/vendor_completions.d, or `sessctl completion fish | source`.
function __sessctl_complete
    set -l tokens (commandline -opc)
    set -l current (commandline -ct)
    $tokens[1] __complete -- $tokens[2..-1] "$current" 2>/dev/null
end
complete -c sessctl -f -a '(__sessctl_complete)'
