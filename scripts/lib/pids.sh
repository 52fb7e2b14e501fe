# Process helpers of the service scripts, sourced by services/kafka.sh and services/clickhouse.sh
# (and through it services/clickhouse-cluster.sh); not a service, so not in services/, whose
# every script scripts/services.sh and scripts/test.sh run as one. A pid file is believed only
# while it names a live process whose command line says it is the one we started (pids get
# reused), and a stop returns once the process is gone, so a start right after finds its ports free.

# pid_of PIDFILE TEXT: print the pid PIDFILE names when that process is alive and its command
# line (arguments joined by spaces) contains TEXT; else return 1.
pid_of() {
    local pid
    pid="$(cat "$1" 2>/dev/null || true)"
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$2" || return 1
    echo "$pid"
}

# stop_pid PID SECONDS: TERM, KILL once SECONDS have passed, and wait until the process is gone
# (at most 10 s more after the KILL). Returns 1 when it had to be killed (or outlived the KILL).
stop_pid() {
    local pid="$1" deadline=$((SECONDS + $2)) killed=0
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do
        if ((killed == 0 && SECONDS >= deadline)); then
            kill -KILL "$pid" 2>/dev/null || true
            killed=1
            deadline=$((SECONDS + 10))
        elif ((killed == 1 && SECONDS >= deadline)); then
            break
        fi
        sleep 0.2
    done
    return "$killed"
}
