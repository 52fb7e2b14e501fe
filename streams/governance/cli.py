"""``rumour report ...``: governance reports.

    rumour report monthly --month 2026-10 [FILE...] -o DIR [--reports REPORTS.jsonl] [--store URL]
                          [--jurisdiction CODE]

With FILE... the share events are replayed embedded (alerts raised on the way, reports from
``--reports`` taken through the intake); without, the store at RUMOUR_CLICKHOUSE_URL (or
``--store``) is read: events, reports, statuses and alerts written by the worker.
"""
from __future__ import annotations

import argparse
import sys

import orjson


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rumour report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="report", required=True)
    p = sub.add_parser("monthly", help="the month's debunk ranking as HTML, CSV and XLSX")
    p.add_argument("--month", required=True, help="YYYY-MM")
    p.add_argument("files", nargs="*", help="share-event files to replay embedded (default: read the store)")
    p.add_argument("-o", "--output", required=True, help="output folder")
    p.add_argument("--reports", default=None, help="JSONL of public reports to take in (with FILE...)")
    p.add_argument("--store", default=None, help="store URL (default: RUMOUR_CLICKHOUSE_URL, or the "
                                                 "embedded store with FILE...)")
    p.add_argument("--timezone", default=None, help="time zone of the month (default: RUMOUR_REPORT_TIMEZONE)")
    p.add_argument("--no-xlsx", action="store_true", help="skip the XLSX workbook")
    p.add_argument("--jurisdiction", default="000000",
                   help="division code of the desk the report is for (province, city or county): only "
                        "the rumours that spread there, its places, alerts and reports (default: "
                        "000000, the whole country)")
    return parser


def collect_embedded(files, settings, config, reports_path=None, store_url=None):
    """Replay ``files`` with the governance hub attached; returns ``(hub, store)``."""
    from streams.embedded import make_pipeline, replay_messages
    from streams.governance.hub import Governance
    from streams.inputs import iter_messages
    from streams.store import open_store

    store = open_store(store_url or settings.embedded_store)
    store.migrate()
    pipeline = make_pipeline(store, settings)
    hub = Governance(pipeline, store=store, config=config)
    hub.attach()
    replay_messages(iter_messages(files, max_line_bytes=settings.max_message_bytes), pipeline,
                    settings.batch_size)
    hub.flush()
    if reports_path:
        with open(reports_path, "rb") as fh:
            for line in fh:
                if line.strip():
                    hub.submit_report(orjson.loads(line), "file")
    return hub, hub.store


def monthly_from_store(store, month: str, tz: str, jurisdiction: str = "000000"):
    """Build the month's report (of ``jurisdiction``) from a store with the governance tables."""
    from streams.governance.monthly import build_monthly, month_bounds
    from streams.store.governance import governance_store

    g = governance_store(store)
    start, end = month_bounds(month, tz)
    active = g.active_rumours(start, end)
    events = g.load_events(rumour_ids=active)
    return build_monthly(events, month, tz, reports=g.load_reports(since_ms=start, until_ms=end),
                         statuses=g.latest_statuses(active), alerts=g.load_alerts(start, end),
                         jurisdiction=jurisdiction)


def cmd_monthly(args) -> int:
    from streams.governance.config import GovernanceConfig
    from streams.governance.render import write_report
    from streams.service.buckets import time_zone
    from streams.settings import Settings

    settings = Settings.load()
    config = GovernanceConfig.from_settings(settings)
    tz = time_zone(args.timezone) if args.timezone else config.report_timezone  # a typo: one-line error
    check_jurisdiction(args.jurisdiction)  # before any replay
    if args.files:
        _hub, store = collect_embedded(args.files, settings, config, args.reports, args.store)
    else:
        from streams.store import open_store

        url = args.store or settings.clickhouse_url
        store = open_store(url, cluster=settings.clickhouse_cluster)
        try:
            store.require_store(url)  # a mistyped URL: an error, not an empty report of a new store
            store.migrate()  # an older store: the columns its queries read
        except BaseException:
            store.close()
            raise
    try:
        report = monthly_from_store(store, args.month, tz, args.jurisdiction)
    finally:
        store.close()
    paths = write_report(report, args.output, xlsx=not args.no_xlsx)
    sys.stdout.buffer.write(orjson.dumps({"month": args.month, "jurisdiction": args.jurisdiction,
                                          "totals": report.totals,
                                          "files": [str(p) for p in paths]}) + b"\n")
    return 0


def check_jurisdiction(code: str) -> None:
    """A division code the service knows, or ValueError (one line, exit 2).

    >>> check_jurisdiction("440305"); check_jurisdiction("440399")
    Traceback (most recent call last):
    ValueError: --jurisdiction: 440399 is no division code known here
    """
    from streams.governance.divisions import division
    from streams.service.access import NATIONAL, check_code

    try:
        check_code(code)
    except ValueError:
        raise ValueError(f"--jurisdiction: expected a 6-digit division code, got {code!r}") from None
    if code != NATIONAL and division(code) is None:
        raise ValueError(f"--jurisdiction: {code} is no division code known here")


def report_main(argv) -> int:
    args = _parser().parse_args(list(argv))
    try:
        if args.report == "monthly":
            return cmd_monthly(args)
    except ValueError as exc:
        print(f"rumour report: error: {exc}", file=sys.stderr)
        return 2
    return 2
