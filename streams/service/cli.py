"""``rumour serve``, ``rumour token`` and ``rumour evidence`` (delegated from streams.cli)."""
from __future__ import annotations

import argparse
import asyncio
import logging
import re
import signal
import socket
import sys
from pathlib import Path

import orjson

from streams.service.paths import EVIDENCE_KEY, key_file, tokens_file
from streams.settings import LIAISON_ACCOUNT_SCOPES


def _tokens_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tokens-file", default=None,
                   help="tokens file [env RUMOUR_TOKENS_FILE, default <project>/.run/tokens.json]")


# -- serve -------------------------------------------------------------------------------------
def serve_parser() -> argparse.ArgumentParser:
    """The options of ``rumour serve`` (each documented in its README row)."""
    p = argparse.ArgumentParser(prog="rumour serve", description=(
        "Replay share-event files into an embedded store (a fresh temporary chDB by default) and "
        "serve the dashboard and the origin-trace API over them."))
    p.add_argument("files", nargs="+", help="JSONL, JSON array or .gz files of v1 share events")
    p.add_argument("--port", type=int, default=None, help="port (default: the web_port setting; 0 = any free)")
    p.add_argument("--host", default=None, help="address to bind (default: the web_host setting)")
    p.add_argument("--store", default=None, help="store URL (default: the embedded_store setting)")
    p.add_argument("--cutoff-k", type=int, default=None,
                   help="cut-off candidates per rumour in the tree, trace and evidence answers "
                        "(default: the cutoff_k setting, 10)")
    p.add_argument("--liaison-account-scope", default=None, choices=LIAISON_ACCOUNT_SCOPES,
                   help="account ids a liaison below the national level sees in clear (default: the "
                        "liaison_account_scope setting)")
    p.add_argument("--reports", default=None,
                   help="JSONL of public reports to take in after the replay (as the intake would)")
    p.add_argument("--dead-letters", default=None,
                   help="also write the input's dead letters to this JSONL file, each with its reason")
    _tokens_arg(p)
    return p


def serve_main(argv) -> int:
    from streams.settings import Settings

    args = serve_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = Settings.load({"web_port": args.port, "web_host": args.host, "cutoff_k": args.cutoff_k,
                              "liaison_account_scope": args.liaison_account_scope},
                             flags={"web_port": "--port", "web_host": "--host"})
    # Under `rumour` the root logger is already set to WARNING (streams/cli.py), which made the
    # basicConfig above a no-op and hid the service's INFO lines (a refused token and where it
    # came from, the trace kernels ready): the level is the log_level setting's, as the worker's.
    logging.getLogger().setLevel(settings.log_level.upper())
    url = args.store or settings.embedded_store
    if url in ("", "none"):
        print("rumour serve: needs a store (chdb:// or clickhouse://)", file=sys.stderr)
        return 2
    from streams.embedded import make_pipeline, replay_messages
    from streams.governance.wiring import build_governance
    from streams.inputs import iter_messages
    from streams.cli import check_output_path
    from streams.service.tokens import TokenStore
    from streams.store import open_store

    if args.reports:
        open(args.reports, "rb").close()  # a missing reports file is refused before the replay
    check_output_path(args.dead_letters, "--dead-letters")
    tokens_path = tokens_file(args.tokens_file)
    # A tokens file that is no tokens file is refused at start (ValueError: exit 2), not met
    # by a 500 on every request after the replay.
    TokenStore(tokens_path).check()
    # Listen before the replay: a port in use is refused at once, not after the whole input.
    sock = listening_socket(settings.web_host, settings.web_port)
    store = open_store(url)
    store.migrate()
    try:
        pipeline = make_pipeline(store, settings)
        # Governance before the replay, so alerts and debunk sets follow the files; no Kafka
        # here: alerts go to the store and the dashboard.
        hub = build_governance(pipeline, store, settings)
        messages = iter_messages(args.files, max_line_bytes=settings.max_message_bytes)
        stats = replay_messages(messages, pipeline, settings.batch_size)
        _report_dead_letters(stats.dead, args.dead_letters)
        hub.flush()  # the files are over: judge their last minutes
        if args.reports:
            _take_reports(hub, args.reports)
        summary = stats.summary()
        summary["alerts"] = hub.alerts.raised
        print(f"replayed {summary}", file=sys.stderr, flush=True)
        return asyncio.run(_serve(pipeline, store, settings, tokens_path, summary, hub, sock))
    finally:
        sock.close()
        store.close()


def _report_dead_letters(dead, path) -> None:
    """Say on stderr how many input lines were not served and why the first was refused, and
    write them all to ``path`` when given: the temporary store that holds them goes with the
    process, and the API shows none (a CSV given by mistake served an empty dashboard, saying
    only ``dead_letters: 2`` in the summary)."""
    if path:
        from streams.embedded import write_dead_letters

        write_dead_letters(dead, path)
    if dead:
        print(f"rumour: {len(dead)} dead letters (not served; first: {dead[0].source}: "
              f"{dead[0].reason}{'' if path else '; --dead-letters FILE keeps them all'})",
              file=sys.stderr, flush=True)


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host``:``port`` (0 = any free port), or ValueError saying why not
    (the CLI's one-line error, exit 2).

    >>> s = listening_socket("127.0.0.1", 0); taken = s.getsockname()[1]
    >>> try:
    ...     listening_socket("127.0.0.1", taken)
    ... except ValueError as exc:
    ...     print(str(exc).split(":")[0])
    cannot listen on 127.0.0.1
    >>> s.close()
    """
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                          flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ValueError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp's own sites do
        sock.bind(addr)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ValueError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def _take_reports(hub, path) -> None:
    """Submit each line of ``path`` as a report from a file; a line that is not JSON, or a report
    the desk refuses, is counted and named on stderr with its reason, and the rest go on."""
    taken = refused = 0
    with open(path, "rb") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                status, answer = hub.submit_report(orjson.loads(line), "file")
            except orjson.JSONDecodeError as exc:
                status, answer = 400, {"error": f"invalid JSON: {exc}"}
            taken += status < 400
            if status >= 400:
                refused += 1
                print(f"{path}:{number}: report refused: {answer.get('error')}", file=sys.stderr)
    print(f"reports: {taken} taken in, {refused} refused", file=sys.stderr, flush=True)


def grafana_hours_note(zone: str) -> str | None:
    """What an operator must know when Grafana's hourly panels are not the centre's hours: the
    store counts those hours in UTC (README, Grafana), which are local hours only in a zone
    whose offset is a whole number of hours.

    >>> grafana_hours_note("Asia/Shanghai") is None, grafana_hours_note("Asia/Kolkata")[:37]
    (True, 'report_timezone Asia/Kolkata: its hou')
    """
    from streams.service.buckets import utc_hours_are_local

    if utc_hours_are_local(zone):
        return None
    return (f"report_timezone {zone}: its hours do not start at UTC full hours, so each bar of "
            "Grafana's hourly panels (audited requests, dead letters: UTC hours) spans two of its "
            f"hours; the dashboard's own series are cut in {zone}")


async def _serve(pipeline, store, settings, tokens_path, replay_stats, hub=None, sock=None) -> int:
    from aiohttp import web

    from streams.service.errors import JsonErrorRunner
    from streams.service.http import Service

    from streams.governance.config import GovernanceConfig

    zone = hub.config.report_timezone if hub is not None else GovernanceConfig.from_settings(settings).report_timezone
    note = grafana_hours_note(zone)
    if note:
        print(f"note: {note}", file=sys.stderr, flush=True)
    service = Service(pipeline, store, tokens_path, settings.cutoff_k, stats=lambda: dict(replay_stats),
                      governance=hub, liaison_account_scope=settings.liaison_account_scope,
                      event_pseudonym_rumours=settings.event_pseudonym_rumours, timezone=zone,
                      refusal_rows_per_minute=settings.refusal_rows_per_minute,
                      refusal_summary_peers=settings.refusal_summary_peers,
                      shutdown_write_seconds=settings.shutdown_write_seconds)
    # At stop, requests still answering get shutdown_write_seconds too, not aiohttp's 60 s (their
    # store calls give up by then: Service.on_shutdown), so the stop ends within Docker's grace.
    runner = JsonErrorRunner(service.application(), access_log=None,
                             shutdown_timeout=settings.shutdown_write_seconds)
    await runner.setup()
    if sock is None:
        site = web.TCPSite(runner, settings.web_host, settings.web_port)
    else:
        site = web.SockSite(runner, sock)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    no_token = service.tokens.startup_note()  # before the serving line, which callers wait for
    if no_token:
        print(f"note: {no_token}", file=sys.stderr, flush=True)
    print(f"serving http://{settings.web_host}:{port}/ (tokens: {tokens_path})", flush=True)
    # The first ?parents=1 trace or export compiled its kernels (23 s on a fresh numba cache)
    # and counted the interaction graph of every graph held (0.6 s on the Weibo set): both done
    # now, beside the serving loop. serve ingests nothing after the replay, so keeping the
    # interaction graph costs it only memory (streams/service/views.py: held_interactions).
    from streams.service.warm import warm_in_background

    warm_in_background(settings.cutoff_k,
                       then=lambda: service.executor.submit(service.views.held_interactions))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()
    service.executor.shutdown(wait=True)
    return 0


# -- token -------------------------------------------------------------------------------------
def token_parser() -> argparse.ArgumentParser:
    from streams.service.access import ROLES

    p = argparse.ArgumentParser(prog="rumour token", description="Issue, list and revoke API tokens.")
    sub = p.add_subparsers(dest="cmd", required=True)
    i = sub.add_parser("issue", help="print a new token (first line of stdout)")
    i.add_argument("--role", required=True, choices=ROLES,
                   help="what the token may do (README, HTTP API: the table of roles)")
    i.add_argument("--jurisdiction", required=True, help="6-digit division code (province PP0000, "
                   "city PPCC00, county PPCCXX, 000000 = whole country)")
    i.add_argument("--name", default=None,
                   help="who holds it, as the audit log and `list` show it (default: ROLE-CODE)")
    lifetime = i.add_mutually_exclusive_group()
    lifetime.add_argument("--expires-days", "--token-days", dest="expires_days", type=float, default=None,
                          help="days until the token expires; 0 = never (default: the token_days "
                          "setting, env RUMOUR_TOKEN_DAYS, 90)")
    lifetime.add_argument("--expires", default=None, metavar="YYYY-MM-DD",
                          help="last day (UTC) the token works: it expires at the end of that day")
    _tokens_arg(i)
    ls = sub.add_parser("list", help="tokens without secrets, as JSON lines: expiry (\"expires\", "
                        "ISO UTC or \"never\"), \"expired\" and \"state\" (active, expired, revoked)")
    _tokens_arg(ls)
    r = sub.add_parser("revoke", help="revoke a token by id")
    r.add_argument("id", help="the token's id (`list`, or the 12 hex digits after rt_)")
    _tokens_arg(r)
    f = sub.add_parser("fingerprint", help="print the token_fingerprint the audit log records for a "
                       "token that is refused, one line per token read from stdin (or --from FILE), "
                       "under the key the service uses (beside the tokens file); a token is never an "
                       "argument, where ps and the shell history would show it")
    f.add_argument("--from", dest="source", metavar="FILE", default=None,
                   help="read the tokens from FILE, one a line (default: stdin)")
    _tokens_arg(f)
    return p


def token_main(argv) -> int:
    from streams.service import regions
    from streams.service.tokens import TokenStore, expiry_text

    args = token_parser().parse_args(argv)
    store = TokenStore(tokens_file(args.tokens_file))
    try:
        if args.cmd == "issue":
            now = store.now_ms()  # one reading: the expiry counts from the issue time itself
            token, rec = store.issue(args.role, args.jurisdiction, args.name, _expiry(args, now), now)
            print(token, flush=True)
            print(f"issued token {rec.id} ({rec.name}, {rec.role}, {rec.jurisdiction}, expires "
                  f"{expiry_text(rec.expires_ms)}) in {store.path}", file=sys.stderr)
            if rec.jurisdiction != "000000" and regions.name(rec.jurisdiction) is None:
                # A mistyped code (110015 for 110105) gives a desk an empty dashboard and no reason.
                print(f"note: {rec.jurisdiction} is no division this service knows; the token sees "
                      "only rumours whose shares carry that code (revoke it if it was a typo)", file=sys.stderr)
            return 0
        if args.cmd == "fingerprint":
            return _fingerprints(store.path, args.source)
        if args.cmd == "list":
            for entry in store.listing():
                sys.stdout.buffer.write(orjson.dumps(entry) + b"\n")
            return 0
        if store.revoke(args.id):
            print(f"revoked {args.id}")
            return 0
        # Bad input like any other (README: one line `rumour: error: ...`, exit 2); it was
        # `rumour token: ...` with exit 1, which a script read as some other failure.
        print(f"rumour: error: no active token {args.id!r} (`rumour token list` shows the ids)",
              file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"rumour: error: {exc}", file=sys.stderr)
        return 2


def _fingerprints(tokens_path: Path, source: str | None) -> int:
    """``rumour token fingerprint``: the audit log's ``token_fingerprint`` of each line read (a
    token, or ``Bearer TOKEN`` as sent), in order. The key is read, never created: a new key
    would give fingerprints that match nothing the service wrote."""
    from streams.cli import os_error_reason
    from streams.service.paths import PSEUDONYM_KEY
    from streams.service.probes import fingerprint, fingerprint_key, presented_credential

    path = key_file(tokens_path, PSEUDONYM_KEY)
    try:
        key = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read the pseudonym key {path} ({os_error_reason(exc)}): fingerprints "
                         "are keyed with the key beside the service's tokens file (--tokens-file)") from None
    if len(key) < 16:
        raise ValueError(f"{path}: a key of at least 16 bytes is expected, found {len(key)}")
    if source is None:
        if sys.stdin.isatty():
            print("paste the token(s), one a line, then Ctrl-D", file=sys.stderr, flush=True)
        text = sys.stdin.read()
    else:
        try:
            text = Path(source).read_text(encoding="utf-8", errors="surrogateescape")
        except OSError as exc:
            raise ValueError(f"cannot read {source}: {os_error_reason(exc)}") from None
    presented = [presented_credential(line) for line in text.splitlines()]
    presented = [p for p in presented if p]
    if not presented:
        raise ValueError(f"no token read from {source or 'stdin'}")
    fp_key = fingerprint_key(key)
    for credential in presented:
        print(fingerprint(fp_key, credential))
    return 0


def _expiry(args, now_ms: int) -> int | None:
    """The expiry of a token being issued: --expires, else --expires-days, else the setting."""
    from streams.service.tokens import expiry_ms
    from streams.settings import Settings

    if args.expires is not None:
        return expiry_ms(now_ms, until=args.expires)
    if args.expires_days is not None:
        return expiry_ms(now_ms, days=args.expires_days)
    return expiry_ms(now_ms, days=Settings.load().token_days)


# -- evidence ----------------------------------------------------------------------------------
def evidence_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rumour evidence", description="Evidence packages.")
    sub = p.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("verify", help="exit 0 for an intact package (signature or --digest checked), "
                       "1 for a tampered one, 2 for a file that is not a package (not a zip, or a zip "
                       "with neither the manifest nor any package file) or a bad argument, 3 when neither the key nor --digest is available; "
                       "a package exported with ?parents=1 holds inferred_parents.json too (an intact one says so, with "
                       "its number of links; a tampered one fails like any file); "
                       "a package zipped again inside one folder is checked as if its files were at the top, "
                       "and a desktop's __MACOSX/, .DS_Store, Thumbs.db and desktop.ini are skipped (notes say so)")
    v.add_argument("file", help="the evidence package (.zip) as exported")
    v.add_argument("--digest", default=None, help="the evidence digest recorded in the audit log")
    v.add_argument("--key-file", default=None,
                   help="evidence key (default: evidence.key beside the tokens file)")
    _tokens_arg(v)
    return p


def evidence_main(argv) -> int:
    """``rumour evidence``. Bad input raises ValueError: ``streams.cli.main``, the one handler of
    every command, prints it as ``rumour: error: ...`` and exits 2."""
    from streams.cli import os_error_reason
    from streams.service.evidence import INFERRED
    from streams.service.evidence_verify import verify

    args = evidence_parser().parse_args(argv)
    if args.digest is not None:
        # As copied from the audit log or a header, in either case: a typo or a cut copy is a
        # bad argument (2), not a verdict that the package was tampered with (1).
        args.digest = args.digest.strip().lower()
        if not re.fullmatch(r"[0-9a-f]{64}", args.digest):
            raise ValueError("--digest: expected the 64 hex digits of an evidence digest")
    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read {args.file}: {os_error_reason(exc)}") from None
    if args.key_file:
        # A key named on the command line must be read: a typo must not drop the signature check.
        try:
            key = Path(args.key_file).read_bytes()
        except OSError as exc:
            raise ValueError(f"cannot read the key {args.key_file}: {os_error_reason(exc)}") from None
    else:
        key_path = key_file(tokens_file(args.tokens_file), EVIDENCE_KEY)
        key = key_path.read_bytes() if key_path.exists() else None
    verdict = verify(data, key, args.digest)
    if verdict.not_a_package:
        raise ValueError(f"{args.file}: {verdict.problems[0]}")
    for note in verdict.notes:
        print(f"note: {note}", file=sys.stderr)
    if verdict.ok and key is None and args.digest is None:
        # Hashes alone prove nothing: anyone can rewrite a manifest to match altered files.
        print(f"UNVERIFIED: {args.file}: its files match its manifest, but nothing authenticates the "
              "manifest; give the evidence key (--key-file) or the digest from the audit log (--digest)",
              file=sys.stderr)
        return 3
    if verdict.ok:
        print(f"OK: {args.file} is intact; evidence digest {verdict.digest}")
        # Said either way: a reader must know whether the package carries links nobody observed.
        print(f"inferred parents: {INFERRED} with {verdict.inferred} inferred links (leads, not evidence)"
              if verdict.inferred is not None else f"inferred parents: none (no {INFERRED})")
        return 0
    print(f"TAMPERED: {args.file} fails verification:", file=sys.stderr)
    for problem in verdict.problems:
        print(f"  - {problem}", file=sys.stderr)
    return 1
