"""The ``rumour`` command."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import orjson

from streams.settings import SETTINGS, Settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


def _add_setting_flags(parser: argparse.ArgumentParser, names) -> None:
    for s in SETTINGS:
        if s.name in names:
            # argparse %-formats help texts: a literal % (as in id_filter_mb's) must be doubled.
            text = f"{s.help} [env {s.env}, default {s.default}]".replace("%", "%%")
            parser.add_argument("--" + s.name.replace("_", "-"), dest=s.name, default=None, help=text)


def _settings(args) -> Settings:
    return Settings.load({s.name: getattr(args, s.name, None) for s in SETTINGS})


class Unavailable(Exception):
    """A service the command needs (Kafka, ClickHouse) cannot be reached: exit 3, not bad input."""


def _emit(obj) -> None:
    sys.stdout.buffer.write(orjson.dumps(obj) + b"\n")
    sys.stdout.flush()


# -- embedded commands -------------------------------------------------------------------------
def _open_embedded_store(url: str):
    if url in ("none", ""):
        return None
    from streams.store import open_store

    store = open_store(url)
    store.migrate()
    return store


def run_embedded(paths, settings: Settings, store_url: str | None = None, progress: bool = False):
    """Run the pipeline over files; returns ``(pipeline, stats)``."""
    from streams.embedded import replay_files

    url = settings.embedded_store if store_url is None else store_url
    store = _open_embedded_store(url)
    return replay_files(paths, store, settings, progress=progress)


def check_output_path(path, flag: str) -> None:
    """Refuse an output file that cannot be created before the run, not after it (when the
    answers would be lost with it)."""
    if path is None:
        return
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"{flag} {p}: is a folder, not a file")
    if not p.parent.is_dir():
        raise ValueError(f"{flag} {p}: folder {p.parent} does not exist")


def cmd_replay(args) -> int:
    check_output_path(args.dead_letters, "--dead-letters")
    settings = _settings(args)
    pipeline, stats = run_embedded(args.files, settings, args.store, progress=args.progress)
    if args.dead_letters:
        from streams.embedded import write_dead_letters

        write_dead_letters(stats.dead, args.dead_letters)
    _emit(stats.summary())
    if pipeline.store is not None:
        pipeline.store.close()
    return 0


def cmd_trace(args) -> int:
    from streams.inputs import iter_messages
    from streams.trace import parse_duration, run_trace

    settings = _settings(args)
    k = settings.cutoff_k if args.cutoff_k is None else args.cutoff_k
    if k < 0:
        raise ValueError("--cutoff-k must be >= 0")
    observe = None
    if args.observe is not None:
        try:
            observe = parse_duration(args.observe)
        except ValueError:  # float()'s own message ("could not convert string to float") says nothing
            observe = float("nan")
        if not 0 <= observe < 1e12:  # NaN, inf and negatives are refused
            raise ValueError(f"--observe must be a duration >= 0 such as 90s, 30m, 1h or 2d, "
                             f"got {args.observe!r}")
    check_output_path(args.dead_letters, "--dead-letters")
    if args.store and (args.parents or observe is not None):
        # run_trace reads every graph whole for these, without a store: the events would not be
        # stored, and the command said nothing about it.
        raise ValueError("--store cannot be combined with --parents or --observe; "
                         "store the events with rumour replay --store URL")
    # The trace needs only the graphs; a store is used when one is asked for.
    store = _open_embedded_store(args.store or "none")
    messages = iter_messages(args.files, max_line_bytes=settings.max_message_bytes)
    dead, answers = run_trace(messages, settings, k, observe, args.parents, args.rumour, store)
    if args.dead_letters:
        from streams.embedded import write_dead_letters

        write_dead_letters(dead, args.dead_letters)
    if dead:
        print(f"rumour: {len(dead)} dead letters (not traced)", file=sys.stderr)
    missing = traced = 0
    for rid, answer, _ in answers:
        if answer is None:
            print(f"rumour: no events for rumour {rid!r}", file=sys.stderr)
            missing += 1
            continue
        traced += 1
        if args.json:
            _emit(answer)
        else:
            _print_trace(answer)
    if store is not None:
        store.close()
    if not traced and not missing:  # an empty input, or only dead letters: say so, as for --rumour
        print("rumour: no valid events in the input: nothing to trace", file=sys.stderr)
        return 1
    return 1 if missing else 0


def _print_trace(answer: dict) -> None:
    from streams.trace import trace_text

    print("\n".join(trace_text(answer)))


def cmd_mask(args) -> int:
    from streams.masking import mask_file

    check_output_path(args.output, "-o")
    c = mask_file(args.file, args.output, args.mask_parents, args.seed, args.drop_origin_post,
                  args.origin_link)
    dropped = (f"; dropped {c['posts_dropped']} origin posts, whose {c['origin_shares']} direct "
               f"shares keep {ORIGIN_LINK_KEPT[args.origin_link]}" if args.drop_origin_post else "")
    print(f"rumour: mask: {c['rumours']} rumours, {c['events_in']} events; masked {c['masked']} of "
          f"{c['shares']} parent links{dropped}; wrote {c['events_out']} events to {args.output}",
          file=sys.stderr)
    return 0


ORIGIN_LINK_KEPT = {"event": "both parent ids", "account": "only the account they reposted",
                    "none": "no parent"}


def cmd_demo(args) -> int:
    from streams.demo import run_demo

    return run_demo(_settings(args), shared_data=Path(args.shared_data), seed=args.seed,
                    weibo_cascades=args.weibo_cascades)


# -- Kafka / ClickHouse commands ---------------------------------------------------------------
def cmd_worker(args) -> int:
    from aiokafka.errors import KafkaConnectionError

    from streams.worker_run import check_worker_paths, check_worker_tokens, run_worker

    settings = _settings(args)
    check_worker_paths(settings)
    check_worker_tokens(settings)
    try:
        run_worker(settings)
    except KafkaConnectionError as exc:  # at start (topics): one line and exit 3, as produce does
        raise Unavailable(f"Kafka at {settings.broker} unreachable: {exc}") from None
    return 0


def cmd_produce(args) -> int:
    from aiokafka.errors import KafkaConnectionError

    from streams.kafka_acks import NotAcknowledged
    from streams.produce import produce_files

    settings = _settings(args)
    try:
        summary = produce_files(args.files, settings, events_per_message=args.events_per_message,
                                message_format=args.format)
    except KafkaConnectionError as exc:
        raise Unavailable(f"Kafka at {settings.broker} unreachable: {exc}") from None
    except NotAcknowledged as exc:  # brokers up but too few to acknowledge: exit 3 too, one line
        raise Unavailable(str(exc)) from None
    _emit(summary)
    if summary.get("refused"):
        sizes = ", ".join(str(r["bytes"]) for r in summary["refused"][:5])
        print(f"rumour: error: Kafka refused {len(summary['refused'])} message(s) of {sizes} bytes "
              f"({summary['refused'][0]['reason']}); the other {summary['messages']} were sent "
              f"(topic {settings.topic} may predate its max.message.bytes: see README)", file=sys.stderr)
        return 2
    return 0


def cmd_migrate(args) -> int:
    """Apply the pending migrations, or (``--status``, ``--dry-run``) say what that would do
    without changing anything (sql/plan.py). ``--status`` exits 1 when files are pending, an
    applied file has changed since or a newer release migrated the store, so a deploy script can
    ask before it upgrades; a run (and a dry run) refuses the last two in one line (exit 2), the
    edited files unless migrate_allow_changed."""
    import sql
    from sql.plan import dry_run, migration_status
    from streams.store import open_store

    settings = _settings(args)
    url = args.url or settings.clickhouse_url
    allow = settings.migrate_allow_changed
    store = open_store(url, cluster=settings.clickhouse_cluster)
    try:
        if args.status:
            status = migration_status(store._execute, store.database, allow_changed=allow)
            nodes, lacking = [], False
            if store.cluster and status.applied and not status.unknown:
                from streams.store.node_schema import status_lines

                nodes, lacking = status_lines(store)  # a node added to the cluster since: a run makes its tables
            print("\n".join(status.lines() + nodes))
            return 0 if status.up_to_date and not lacking else 1
        if args.dry_run:
            statements = dry_run(store._execute, store.database, cluster=store.cluster, allow_changed=allow)
            print("\n".join(statements) if statements else f"-- {store.database} is up to date: nothing to run")
            return 0
        # create_lacking: the tables a node added to the cluster since lacks are made there
        applied = store.migrate(allow_changed=allow, ddl_timeout=settings.clickhouse_ddl_timeout, create_lacking=True)
        made = store.tables_made
        changed = migration_status(store._execute, store.database).changed
    except sql.MigrationRefused as exc:
        raise ValueError(f"migration refused: {exc}") from None  # nothing was run: no "that file" to retry
    except sql.MigrationError as exc:
        from streams.store.base import StoreUnavailable
        from streams.store.node_schema import NodeTablesError

        if isinstance(exc.__cause__, StoreUnavailable):
            raise exc.__cause__ from None  # the server went away mid-run: exit 3, as at the start
        if isinstance(exc, NodeTablesError):
            raise ValueError(f"migration failed: {migration_error_line(exc)}; the files are applied: fix the cause "
                             "and run `rumour migrate` again to make what the node still lacks") from None
        raise ValueError(f"migration failed: {migration_error_line(exc)}; that file is not recorded as applied: "
                         "fix the cause and run `rumour migrate` again (applied files are skipped, this one "
                         "runs from its start)") from None
    finally:
        store.close()
    print(f"migrated {url}: " + (f"applied {', '.join(applied)}" if applied else "up to date"))
    for node, tables in made.items():
        print(f"created on cluster node {node}, which lacked them (added since the store was migrated): "
              f"{len(tables)} tables: {', '.join(tables)}")
    for name, recorded, now in changed:  # run anyway: migrate_allow_changed is on
        print(f"rumour: warning: {name} was applied with checksum {', '.join(recorded)}, the file is now {now}: "
              "a migration file was edited after it was applied (this run did not apply it again; "
              "migrate_allow_changed is on)", file=sys.stderr)
    return 0


def migration_error_line(exc: Exception) -> str:
    """A :class:`sql.MigrationError` in one line: the file, the server's reason without its stack
    trace, and the start of the statement.

    >>> migration_error_line(RuntimeError("014_x: Code: 47.\\nDB::Exception: Missing columns: 'hour'. "
    ...     "Stack trace:\\n0. ...\\n-- statement:\\nINSERT INTO db.t\\nSELECT 1"))
    "014_x: Code: 47. DB::Exception: Missing columns: 'hour'. (statement: INSERT INTO db.t SELECT 1)"
    """
    text, _, statement = str(exc).partition("\n-- statement:\n")
    reason = " ".join(text.split("Stack trace:")[0].split())
    statement = " ".join(statement.split())
    if len(statement) > 200:
        statement = statement[:200] + " ..."
    return reason + (f" (statement: {statement})" if statement else "")


def cmd_import(args) -> int:
    from streams.importers import run_import

    listed = Path(args.problems) if args.problems else None
    if listed is not None and (listed.is_dir() or not listed.parent.is_dir()):
        raise ValueError(f"--problems: {listed} is a folder" if listed.is_dir() else
                         f"--problems: folder {listed.parent} does not exist")
    report = run_import(args.dataset, args.src, args.output)
    if listed is not None:
        try:
            report.write_problems(listed)
        except OSError as exc:
            raise ValueError(f"--problems: cannot write {listed}: {exc.strerror or exc} "
                             f"(the events were written to {args.output})") from None
    _emit(report.to_dict())
    if not args.quiet:
        # The JSON line (stdout) is for programs and lists the first 200 problems; this is for
        # the person who ran the import: per reason, how many and a few examples.
        full = f"; all of them: {args.problems}" if args.problems else ""
        print(report.summary() + (f"\n(the JSON line lists the first 200 problems{full})"
                                  if len(report.problems) > 200 else ""), file=sys.stderr)
    return 0


def _delegate(module: str, function: str):
    """A subcommand whose own parser lives in another module (it receives the remaining args)."""
    def run(args) -> int:
        import importlib

        target = getattr(importlib.import_module(module), function)
        return int(target(args.args) or 0)
    return run


# Subcommands owned by other modules: name -> (module, function, help).
DELEGATED = {
    "bench": ("benchmarks.cli", "main", "benchmarks: trace, ingest, scale, accuracy, parents, origins, "
                                        "cutoff, blocking (rumour bench NAME --help; benchmarks/README.md)"),
    "serve": ("streams.service.cli", "serve_main", "embedded dashboard and origin-trace API over files"),
    "token": ("streams.service.cli", "token_main", "issue, list and revoke API tokens"),
    "evidence": ("streams.service.cli", "evidence_main", "verify an evidence package"),
    "report": ("streams.governance.cli", "report_main", "governance reports (monthly debunk ranking)"),
}


def cmd_warm(args) -> int:
    from streams.warm_cache import fill_cache
    from streams.settings import Settings

    done = fill_cache(Settings.load({}).cutoff_k)
    where = done["cache_dir"] or "__pycache__ beside the sources"
    print(f"kernels in numba's cache ({where}): {done['compiled']} compiled, {done['loaded']} already there, "
          f"{done['seconds']:.1f} s")
    return 0


def cmd_settings(args) -> int:
    from streams.settings import all_settings

    print("| setting | env var | default | help |")
    print("|---|---|---|---|")
    for s in all_settings():
        print(f"| `{s.name}` | `{s.env}` | `{s.default}` | {s.help} |")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rumour", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("replay", help="run the pipeline embedded over files, print a JSON summary")
    p.add_argument("files", nargs="+", help="JSONL, JSON array or .gz files of v1 share events ('-' = stdin)")
    p.add_argument("--store", default=None, help="store URL (default: the embedded_store setting)")
    p.add_argument("--dead-letters", default=None, help="also write dead letters to this JSONL file")
    p.add_argument("--progress", action="store_true", help="show progress on stderr")
    _add_setting_flags(p, {"batch_size", "max_event_bytes", "max_message_bytes", "embedded_store"})
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("trace", help="origins and cut-off accounts of each rumour in the files")
    p.add_argument("files", nargs="+", help="JSONL, JSON array or .gz files of v1 share events ('-' = stdin)")
    p.add_argument("--json", action="store_true", help="one JSON object per rumour per line")
    p.add_argument("--rumour", default=None, help="only this rumour id")
    p.add_argument("--cutoff-k", type=int, default=None, help="number of cut-off accounts")
    p.add_argument("--store", default=None,
                   help="also store the events (default: graphs only; not with --parents or --observe)")
    p.add_argument("--dead-letters", default=None, help="also write dead letters to this JSONL file")
    p.add_argument("--parents", action="store_true",
                   help="add \"parents\": inferred parent of every share whose parent is missing")
    p.add_argument("--observe", default=None, metavar="DURATION",
                   help="answer as if only the first DURATION (e.g. 1h, 30m) of each rumour was seen; "
                        "the cut-off then forecasts the shares still to come")
    _add_setting_flags(p, {"batch_size", "max_event_bytes", "max_message_bytes"})
    p.set_defaults(func=cmd_trace)

    p = sub.add_parser("mask", help="write a masked / origin-removed variant of a cascade file "
                                     "(what the parents and contract benchmarks measure)")
    p.add_argument("file", help="JSONL, JSON array or .gz file of v1 share events ('-' = stdin)")
    p.add_argument("-o", "--output", required=True, help="output JSONL file")
    p.add_argument("--mask-parents", type=float, default=0.0, metavar="FRACTION",
                   help="this fraction of each rumour's shares (events whose parent is in the rumour), "
                        "chosen with the seed, lose both parent ids (default 0)")
    p.add_argument("--drop-origin-post", action="store_true", help="remove each rumour's source post")
    p.add_argument("--origin-link", choices=("event", "account", "none"), default="event",
                   help="with --drop-origin-post, what the post's direct shares keep: both parent ids "
                        "(event: the post stays a placeholder, as benchmarks/parents_real.py), the "
                        "account only (account), or nothing (none) (default: event)")
    p.add_argument("--seed", type=int, default=0, help="seed of the masking (default 0)")
    p.set_defaults(func=cmd_mask)

    p = sub.add_parser("demo", help="embedded demo: a synthetic cascade and real Weibo cascades")
    p.add_argument("--seed", type=int, default=7, help="seed of the synthetic cascade (default 7)")
    p.add_argument("--weibo-cascades", type=int, default=5,
                   help="real Weibo cascades to trace when the archive is present (default 5)")
    p.add_argument("--shared-data", default=str(SHARED_DATA),
                   help="folder holding weibo-ced-dev.tar.gz (default: %(default)s)")
    _add_setting_flags(p, {"embedded_store", "cutoff_k"})
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("worker", help="run the Faust worker (Kafka -> ClickHouse + live graph)")
    _add_setting_flags(p, {s.name for s in SETTINGS} - {"embedded_store"})
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("produce", help="send files of share events to Kafka, keyed by rumour")
    p.add_argument("files", nargs="+", help="JSONL, JSON array or .gz files of v1 share events ('-' = stdin)")
    p.add_argument("--events-per-message", type=int, default=1,
                   help="pack up to N events of one rumour into one message (a JSON array)")
    p.add_argument("--format", choices=("array", "columns"), default="array",
                   help="batch message form: a JSON array of events, or columns (faster to decode)")
    _add_setting_flags(p, {"broker", "topic", "topic_partitions", "topic_replication_factor",
                           "topic_min_insync_replicas", "max_message_bytes", "kafka_ack_seconds"})
    p.set_defaults(func=cmd_produce)

    p = sub.add_parser("migrate", help="apply the ClickHouse schema")
    p.add_argument("--url", default=None, help="store URL (default: the clickhouse_url setting)")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--status", action="store_true",
                     help="change nothing: list the applied, pending and gated files, those changed since "
                          "applied (checksum) and those a newer release applied, and why a run would refuse; "
                          "exit 1 when some are pending, changed or newer")
    how.add_argument("--dry-run", action="store_true",
                     help="change nothing: print the statements a run would execute (in their cluster form "
                          "with clickhouse_cluster)")
    _add_setting_flags(p, {"clickhouse_url", "clickhouse_cluster", "migrate_allow_changed", "clickhouse_ddl_timeout"})
    p.set_defaults(func=cmd_migrate)

    from streams.dead_letters import add_parser as add_dead_letters

    add_dead_letters(sub, _add_setting_flags)

    p = sub.add_parser("import", help="turn a real dataset into v1 share events (JSONL)")
    p.add_argument("dataset", choices=["weibo-ced", "twitter15-16"],
                   help="which dataset SRC holds (README, Real data)")
    p.add_argument("src", help="the dataset folder or its .tar.gz")
    p.add_argument("-o", "--output", required=True, help="output JSONL file")
    p.add_argument("--problems", metavar="FILE", default=None,
                   help="write every problem to FILE, one JSON object a line (the report lists the first 200)")
    p.add_argument("--quiet", action="store_true",
                   help="no human summary on stderr (the JSON report still goes to stdout)")
    p.set_defaults(func=cmd_import)

    for name, (module, function, help_text) in DELEGATED.items():
        p = sub.add_parser(name, help=help_text, add_help=False)
        p.add_argument("args", nargs=argparse.REMAINDER)
        p.set_defaults(func=_delegate(module, function))

    p = sub.add_parser("settings", help="print every setting as a Markdown table")
    p.set_defaults(func=cmd_settings)
    p = sub.add_parser("warm", help="compile the worker's and the service's numba kernels into numba's cache "
                                    "(NUMBA_CACHE_DIR), so a fresh start loads them (deploy/Dockerfile runs it)")
    p.set_defaults(func=cmd_warm)
    return parser



def os_error_reason(exc: OSError) -> str:
    """An OSError's reason without Python's ``[Errno N]`` prefix and the repeated path.

    >>> os_error_reason(FileNotFoundError(2, "No such file or directory", "p.zip"))
    'no such file or directory'
    >>> os_error_reason(IsADirectoryError(21, "Is a directory", "cases"))
    'is a directory'
    """
    reason = exc.strerror or str(exc)
    return reason[:1].lower() + reason[1:]


def error_text(exc: Exception) -> str:
    """The one line a command prints for a failure: ``path: reason`` for a file that cannot be
    opened, the message itself for everything else.

    >>> error_text(FileNotFoundError(2, "No such file or directory", "/tmp/r.jsonl"))
    '/tmp/r.jsonl: no such file or directory'
    >>> error_text(ValueError("--observe: expected a duration"))
    '--observe: expected a duration'
    """
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {os_error_reason(exc)}"
    return str(exc)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    if argv and argv[0] in DELEGATED:
        # The delegated module parses its own flags (including --help).
        args = argparse.Namespace(args=argv[1:], func=_delegate(*DELEGATED[argv[0]][:2]))
    else:
        args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if getattr(args, "func", None) is not cmd_worker:
        # The store retries an unreachable server for retry_seconds, then says so in one line
        # (StoreUnavailable, exit 3); the driver's warning with a traceback at every attempt
        # buried that line. The worker keeps them: its log is where an operator looks.
        logging.getLogger("clickhouse_driver.connection").setLevel(logging.ERROR)
    try:
        rc = int(args.func(args) or 0)
        sys.stdout.flush()  # here, not at exit: a closed pipe is then handled below
        return rc
    except (FileNotFoundError, ValueError) as exc:
        print(f"rumour: error: {error_text(exc)}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader of stdout went away (`rumour trace ... | head`): stop quietly, and point
        # stdout at /dev/null so that the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # what a shell reports for a command ended by SIGPIPE
    except Exception as exc:
        from streams.store.base import StoreUnavailable

        if isinstance(exc, OSError) and exc.filename is not None:
            # A file named on the command line that cannot be opened (a folder, no permission):
            # bad input like a missing one. Network errors carry no file name and stay below.
            print(f"rumour: error: {error_text(exc)}", file=sys.stderr)
            return 2
        refusal = server_refusal(exc)
        if refusal is not None:
            print(f"rumour: error: {refusal}", file=sys.stderr)
            return 2
        if not isinstance(exc, (Unavailable, StoreUnavailable)):
            raise
        print(f"rumour: error: {exc}", file=sys.stderr)
        return 3


# clickhouse-server's codes for a store URL that names a user, password or database it does not
# have: the URL is wrong (bad input, exit 2), not the code; any other server error stays a
# traceback, which is what a bug in a query needs.
_URL_REFUSALS = {81: "UNKNOWN_DATABASE", 192: "UNKNOWN_USER", 193: "WRONG_PASSWORD",
                 194: "REQUIRED_PASSWORD", 516: "AUTHENTICATION_FAILED"}


def server_refusal(exc) -> str | None:
    r"""One line for a clickhouse-server refusal of the store URL's user, password or database
    (the server's first line, without its stack trace), else None.

    >>> class ServerException(Exception):
    ...     code = 192
    >>> server_refusal(ServerException("Code: 192.\nDB::Exception: Unknown user u. Stack trace:\n\n0. ..."))
    'clickhouse-server refused the store URL (UNKNOWN_USER): Unknown user u.'
    >>> server_refusal(ValueError("x")) is None
    True
    """
    code = getattr(exc, "code", None)
    if type(exc).__name__ != "ServerException" or code not in _URL_REFUSALS:
        return None
    text = str(exc).replace("DB::Exception:", "\n").split("Stack trace:")[0]
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("Code:")]
    said = lines[0] if lines else f"code {code}"
    return f"clickhouse-server refused the store URL ({_URL_REFUSALS[code]}): {said}"


if __name__ == "__main__":
    sys.exit(main())
