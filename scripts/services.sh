#!/usr/bin/env bash
# Start, stop or inspect the real services used by the integration tests and a local worker.
#
#   bash scripts/services.sh start|stop|status [all|kafka|clickhouse|clickhouse-cluster ...]
#
# Each service is a script scripts/services/<name>.sh with the same start|stop|status interface;
# "all" (the default) means every such script. Stop goes in reverse order.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$ROOT/scripts/services"

usage() { echo "usage: $0 start|stop|status [all|kafka|clickhouse|clickhouse-cluster ...]" >&2; exit 2; }

all_services() {
    local f
    for f in "$DIR"/*.sh; do
        [ -e "$f" ] && basename "$f" .sh
    done
}

action="${1:-}"
case "$action" in start|stop|status) ;; *) usage ;; esac
shift

names=()
if [ "$#" -eq 0 ] || [ "$*" = all ]; then
    mapfile -t names < <(all_services)
else
    for name in "$@"; do
        [ -f "$DIR/$name.sh" ] || { echo "unknown service '$name' (have: $(all_services | tr '\n' ' '))" >&2; exit 2; }
        names+=("$name")
    done
fi
[ "$action" = stop ] && mapfile -t names < <(printf '%s\n' "${names[@]}" | tac)

rc=0
for name in "${names[@]}"; do
    if [ "$action" = start ]; then
        # A failed start stops the run: the caller cannot test against half the services.
        bash "$DIR/$name.sh" start || { echo "services: starting $name failed" >&2; exit 1; }
    else
        # stop/status visit every service and report the worst exit code.
        bash "$DIR/$name.sh" "$action" || rc=$?
    fi
done
exit "$rc"
