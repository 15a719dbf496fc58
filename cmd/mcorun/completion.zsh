#compdef mcorun
# zsh completion for mcorun: put this file as _mcorun in a directory of $fpath, or
# source <(mcorun completion zsh) after compinit.
# The candidates come from 'mcorun __complete CUR LINE': commands, flags, and the agents,
# actions and inputs of the DDLs mcorun knows.
_mcorun() {
    local -a out
    out=("${(@f)$(${words[1]} __complete "$PREFIX" "$LBUFFER" 2>/dev/null)}")
    local mode=${out[1]}
    shift out
    case $mode in
    :files) _files ;;
    :nospace) compadd -S '' -- "${out[@]}" ;;
    *) compadd -- "${out[@]}" ;;
    esac
}
if [[ ${funcstack[1]} == _mcorun ]]; then
    _mcorun "$@"
else
    compdef _mcorun mcorun
fi
