#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-completion.sh SCRIPT: spmctl's bash completion offers its verbs and the options of each. TAP.
script=$1
if [ ! -r /usr/share/bash-completion/bash_completion ]; then
        echo "1..0 # SKIP unavailable: bash-completion is not installed (scripts/install-deps installs it)"
        exit 0
fi
# shellcheck source=/dev/null
. /usr/share/bash-completion/bash_completion
# shellcheck source=/dev/null
. "$script"
n=0 fail=0
check() { # check "WORDS..." EXPECTED...: completing the last word offers each EXPECTED
        local line=$1 want
        shift
        read -r -a COMP_WORDS <<<"$line"
        [ "${line: -1}" = " " ] && COMP_WORDS+=("")
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        COMP_LINE=$line COMP_POINT=${#line}
        COMPREPLY=()
        _spmctl
        n=$((n + 1))
        for want in "$@"; do
                if ! printf '%s\n' "${COMPREPLY[@]}" | grep -qx -- "$want"; then
                        echo "not ok $n - '$line' offers $want (got: ${COMPREPLY[*]})"
                        fail=1
                        return
                fi
        done
        echo "ok $n - '$line' offers $*"
}
check "spmctl st" status
check "spmctl " status grants request release reload monitor top run metrics nodes devices detach-bpf
check "spmctl top --" --iterations --delay --json
check "spmctl metrics --" --output
check "spmctl request --" --cgroup --unit --node --max-bytes --persistent
check "spmctl --json run --" --node --max-bytes --
check "spmctl device " release
echo "1..$n"
exit $fail
