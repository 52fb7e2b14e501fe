"""`rumour bench NAME ...`: dispatch to one benchmark's ``main(argv)`` (see benchmarks/README.md)."""
from __future__ import annotations

import importlib
import sys

# name -> (module, help); every module has main(argv) -> int
BENCHMARKS = {
    "trace": ("benchmarks.bench_trace", "graph queries on 10^4..10^7-share cascades vs networkx and the pointer-chase limit"),
    "ingest": ("benchmarks.bench_ingest", "one worker: Kafka -> Faust -> graph + ClickHouse, beside no-op Faust, getmany, CH ceiling"),
    "scale": ("benchmarks.bench_scale", "1, 2 and 4 worker processes on 4 partitions: rate, identical answers, CPU per process"),
    "accuracy": ("benchmarks.accuracy", "snapshot and sampled-timestamp source detection vs rumor/Jordan/cosasi"),
    "parents": ("benchmarks.accuracy_parents", "broken chains: origin top-1 and masked-parent recovery (Weibo, synthetic)"),
    "origins": ("benchmarks.origins_models", "origins under several seeds and sampled shares, confidence calibration"),
    "cutoff": ("benchmarks.accuracy_cutoff", "cut-off at time t on real Weibo rumours vs most-reposted, random, hindsight"),
    "blocking": ("benchmarks.accuracy_blocking", "blocking on independent cascades vs dominator greedy, degree, NetShield"),
}


def usage() -> str:
    lines = ["usage: rumour bench NAME [options]   (NAME --help for its options)", ""]
    lines += [f"  {name:<9} {text}" for name, (_, text) in BENCHMARKS.items()]
    return "\n".join(lines)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("-h", "--help"):
        print(usage())  # asked for: the answer, on stdout
        return 0
    if not argv:
        # A missing name is a usage error, as argparse treats a missing argument (and as an
        # unknown name is treated below): the list and the error on stderr, exit 2. It was the
        # list on stdout with exit 2, which `rumour bench > out.json` kept as if it were output.
        print(f"{usage()}\n\nrumour bench: error: name a benchmark", file=sys.stderr)
        return 2
    name, rest = argv[0], argv[1:]
    if name not in BENCHMARKS:
        print(f"rumour bench: unknown benchmark {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(BENCHMARKS[name][0])
    try:
        rc = module.main(rest)
    except (KeyboardInterrupt, SystemError) as exc:
        # Ctrl-C inside a numba function comes out as a SystemError wrapping the KeyboardInterrupt.
        if not isinstance(exc, KeyboardInterrupt) and not isinstance(exc.__context__, KeyboardInterrupt):
            raise
        print(f"rumour bench {name}: interrupted; no result file written by this run "
              f"(any earlier one is left as it was)", file=sys.stderr)
        return 130
    # Some accuracy mains return their results, the others an exit code.
    return rc if isinstance(rc, int) else 0


if __name__ == "__main__":
    sys.exit(main())
