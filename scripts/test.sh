#!/usr/bin/env bash
# The whole test suite on this machine: set-up, real services, pytest, services stopped again.
#
#   bash scripts/test.sh [pytest arguments]
#
# Services that were already running are used and left running; the ones this script starts are
# stopped on exit, whatever happens (trap). Exits with pytest's code, except that "no tests
# collected" (5) counts as a failure. Under CI=true tests needing a missing service fail.
# Environment: RUMOUR_TEST_SERVICES (default "all": every scripts/services/*.sh, i.e. Kafka,
# clickhouse-server and the ClickHouse cluster of clickhouse-cluster.sh; "none", or names such
# as "kafka clickhouse").
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/setup.sh

# System packages only the tests need: headless Chromium for the dashboard test, CJK fonts so
# Chinese renders in its screenshots.
missing=()
command -v chromium >/dev/null || missing+=(chromium)
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || missing+=(fonts-noto-cjk)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "[test] installing ${missing[*]} with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Fixtures and the worker find the broker through RUMOUR_KAFKA_BROKER (faust's kafka:// form);
# keep it in step with the port kafka.sh starts on.
export RUMOUR_KAFKA_BROKER="${RUMOUR_KAFKA_BROKER:-kafka://127.0.0.1:${RUMOUR_KAFKA_PORT:-9092}}"
# Likewise for a clickhouse-server moved off its default port (tests/plugins/clickhouse.py).
if [ -n "${RUMOUR_CLICKHOUSE_PORT:-}" ] && [ -z "${RUMOUR_CLICKHOUSE_URL:-}" ]; then
    export RUMOUR_CLICKHOUSE_URL="clickhouse://127.0.0.1:$RUMOUR_CLICKHOUSE_PORT"
fi
# And for the cluster of clickhouse-cluster.sh moved off its ports (tests/plugins/clickhouse_cluster.py):
# its first node listens on RUMOUR_CLUSTER_BASE_PORT + 1.
if [ -n "${RUMOUR_CLUSTER_BASE_PORT:-}" ] && [ -z "${RUMOUR_CLICKHOUSE_CLUSTER_URL:-}" ]; then
    export RUMOUR_CLICKHOUSE_CLUSTER_URL="clickhouse://127.0.0.1:$((RUMOUR_CLUSTER_BASE_PORT + 1))"
fi

services=()
case "${RUMOUR_TEST_SERVICES:-all}" in
    none) ;;
    all) for f in scripts/services/*.sh; do [ -e "$f" ] && services+=("$(basename "$f" .sh)"); done ;;
    *) read -r -a services <<<"${RUMOUR_TEST_SERVICES}" ;;
esac

started=()
stop_started() {
    local i
    # Reverse order of starting; a failed stop must not hide pytest's exit code.
    for ((i = ${#started[@]} - 1; i >= 0; i--)); do
        bash scripts/services.sh stop "${started[i]}" || echo "[test] stopping ${started[i]} failed" >&2
    done
    started=()
}
trap stop_started EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for name in "${services[@]}"; do
    if bash "scripts/services/$name.sh" status >/dev/null 2>&1; then
        echo "[test] $name already running: using it and leaving it running"
        continue
    fi
    # Registered before starting, so a start that fails half-way is cleaned up too.
    started+=("$name")
    bash scripts/services.sh start "$name"
done

echo "[test] .venv/bin/python -m pytest $*"
rc=0
.venv/bin/python -m pytest "$@" || rc=$?
if [ "$rc" -eq 5 ]; then
    echo "[test] pytest collected no tests: counted as a failure" >&2
    rc=1
fi
exit "$rc"
