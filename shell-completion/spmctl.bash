# SPDX-License-Identifier: LGPL-2.1-or-later
# bash completion for spmctl(1)

_spmctl() {
        local cur prev words cword
        _init_completion || return

        local verbs="status grants request release reload monitor top run metrics check-config nodes devices device detach-bpf"
        local opts="-h --help --version --json --dump -c --config"
        local i verb=""
        for ((i = 1; i < cword; i++)); do
                case ${words[i]} in
                -c | --config) ((i++)) ;;
                -*) ;;
                *) verb=${words[i]}; break ;;
                esac
        done

        case $prev in
        -c | --config)
                _filedir conf
                return ;;
        --output)
                _filedir prom
                return ;;
        --cgroup)
                local cgs
                cgs=$(cd /sys/fs/cgroup 2>/dev/null && find . -mindepth 1 -maxdepth 3 -type d 2>/dev/null | sed 's|^\.||')
                COMPREPLY=($(compgen -W "$cgs" -- "$cur"))
                return ;;
        --unit)
                local units
                units=$(find /sys/fs/cgroup -maxdepth 3 -type d \( -name '*.service' -o -name '*.scope' -o -name '*.slice' \) -printf '%f\n' 2>/dev/null)
                COMPREPLY=($(compgen -W "$units" -- "$cur"))
                return ;;
        -n | --node | -d | --delay | --iterations)
                [ "$verb" = top ] && return
                local nodes
                nodes=$(ls -d /sys/devices/system/node/node* 2>/dev/null | sed 's|.*/node||')
                COMPREPLY=($(compgen -W "$nodes" -- "$cur"))
                return ;;
        --max-bytes)
                return ;;
        esac

        case $verb in
        "")
                COMPREPLY=($(compgen -W "$verbs $opts" -- "$cur")) ;;
        request)
                COMPREPLY=($(compgen -W "--cgroup --unit --node --max-bytes --persistent" -- "$cur")) ;;
        top)
                COMPREPLY=($(compgen -W "--iterations --delay --json" -- "$cur")) ;;
        metrics)
                COMPREPLY=($(compgen -W "--output" -- "$cur")) ;;
        run)
                local j dashdash=0
                for ((j = 1; j < cword; j++)); do
                        [ "${words[j]}" = -- ] && { dashdash=$((j + 1)); break; }
                done
                if [ "$dashdash" -gt 0 ]; then
                        _command_offset "$dashdash"
                else
                        COMPREPLY=($(compgen -W "--node --max-bytes --" -- "$cur"))
                fi ;;
        release)
                local ids
                ids=$(spmctl --json grants 2>/dev/null | grep -o '"id":[0-9]*' | cut -d: -f2)
                COMPREPLY=($(compgen -W "$ids" -- "$cur")) ;;
        device)
                if [ "$prev" = device ]; then
                        COMPREPLY=($(compgen -W "release" -- "$cur"))
                else
                        local devs
                        devs=$(ls /sys/bus/dax/devices 2>/dev/null)
                        COMPREPLY=($(compgen -W "$devs" -- "$cur"))
                fi ;;
        check-config)
                _filedir conf ;;
        *)
                COMPREPLY=($(compgen -W "--json" -- "$cur")) ;;
        esac
}
complete -F _spmctl spmctl
