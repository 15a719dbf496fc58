# bash completion for mcorun: source <(mcorun completion bash)
# The candidates come from 'mcorun __complete CUR LINE': commands, flags, and the agents,
# actions and inputs of the DDLs mcorun knows.
_mcorun() {
    local cur=${COMP_WORDS[COMP_CWORD]}
    case $cur in [=:]) cur= ;; esac
    local IFS=$'\n'
    local -a out
    out=($("${COMP_WORDS[0]}" __complete "$cur" "${COMP_LINE:0:COMP_POINT}" 2>/dev/null))
    local mode=${out[0]}
    COMPREPLY=()
    case $mode in
    :files)
        COMPREPLY=($(compgen -f -- "$cur"))
        compopt -o filenames 2>/dev/null
        ;;
    :nospace)
        COMPREPLY=("${out[@]:1}")
        compopt -o nospace 2>/dev/null
        ;;
    *)
        COMPREPLY=("${out[@]:1}")
        ;;
    esac
}
complete -F _mcorun mcorun
