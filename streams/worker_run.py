"""``rumour worker``: the worker process from start to stop. It creates the topics, warms up the
kernels, waits for the store, builds the Faust app (streams/app.py), tunes the collector and
runs Faust's worker in the foreground."""
from __future__ import annotations

import logging
import time

import orjson

import sql
from streams.app import create_app
from streams.settings import Settings, setting, setting_label
from streams.store.base import redact_url
from streams.worker_setup import faust_worker, tune_gc, warm_up_worker

log = logging.getLogger(__name__)


def check_worker_paths(settings: Settings) -> None:
    """Refuse, before anything starts, a ``batch_trace`` file whose folder does not exist (it
    was opened only after the warm-up, and the error named neither the setting nor its variable)."""
    from pathlib import Path

    if settings.batch_trace:
        path = Path(settings.batch_trace)
        where = setting_label(setting("batch_trace"))
        if path.is_dir():
            raise ValueError(f"{where}: {path} is a folder, not a file")
        if not path.parent.is_dir():
            raise ValueError(f"{where}: folder {path.parent} does not exist")


def check_worker_tokens(settings: Settings) -> None:
    """Refuse, before anything starts, a tokens file that is no tokens file (not JSON, no token
    records), as ``rumour serve`` does: the worker started and answered every protected request
    503 until someone read its log. A missing or empty file is no error (no token issued yet)."""
    from streams.service.paths import tokens_file
    from streams.service.tokens import TokenStore, TokensFileError

    try:
        TokenStore(tokens_file(settings.tokens_file)).check()
    except TokensFileError as exc:  # its text names the file
        raise ValueError(f"{setting_label(setting('tokens_file'))}: {exc}") from None


class StartupHealth:
    """/healthz (any path) answering 503 ``{"status": "starting", "problems": [...]}`` on the
    worker's web address while the worker waits for its store, before Faust's web server exists
    (a worker started during a ClickHouse outage answered nothing at all, for as long as the
    outage lasted). Closed before Faust binds the same port."""

    def __init__(self, host: str, port: int):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        health = self
        self.problems = ["starting"]

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                body = orjson.dumps({"status": "starting", "problems": list(health.problems)})
                self.send_response(503)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # health checks every few seconds: not in the log
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True, name="startup-health").start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def open_startup_health(settings: Settings) -> StartupHealth:
    """The start-up /healthz on the worker's web address; a port another process holds is a
    bad ``web_port`` at once (it was Faust's OSError traceback, after the topics and warm-up)."""
    try:
        return StartupHealth(settings.web_host, settings.web_port)
    except OSError as exc:
        raise ValueError(f"{setting_label(setting('web_port'))}: cannot listen on "
                         f"{settings.web_host}:{settings.web_port}: {exc.strerror or exc}") from None


def migrate_when_reachable(settings: Settings, max_attempts: int | None = None,
                           health: StartupHealth | None = None):
    """Open and migrate the store, waiting (with backoff) while it is unreachable: a worker
    started during a ClickHouse outage waits instead of exiting into a crash loop, and says so
    in ``health``'s /healthz meanwhile. ``max_attempts``: give up (raise) after so many (None:
    wait for as long as it takes). A store it may not migrate (:class:`sql.MigrationRefused`: a
    newer release's, or applied files edited since; on a cluster, a node lacking tables of the
    store, :class:`streams.store.node_schema.NodesLackTables`: `rumour migrate` makes them) stops
    it at once, in one line."""
    from streams.store import open_store

    pause = 1.0
    where = redact_url(settings.clickhouse_url)
    if health is not None:
        health.problems = [f"connecting to the store {where}"]
    attempt = 0
    while True:
        attempt += 1
        store = open_store(settings.clickhouse_url, cluster=settings.clickhouse_cluster)
        try:
            store.migrate(allow_changed=settings.migrate_allow_changed, ddl_timeout=settings.clickhouse_ddl_timeout)
            return store
        except sql.MigrationRefused:
            # the store answered: its record does not fit this release, and waiting changes nothing
            store.close()
            raise
        except Exception as exc:
            store.close()
            if max_attempts is not None and attempt >= max_attempts:
                raise
            log.warning("store %s not ready (%s); trying again in %.0fs", where, exc, pause)
            if health is not None:
                health.problems = [f"store {where} unreachable (attempt {attempt}): {exc}"]
            time.sleep(pause)
            pause = min(pause * 2, 30.0)


def run_worker(settings: Settings) -> None:
    """Run a Faust worker in the foreground until interrupted."""
    from streams.governance.wiring import governance_topics
    from streams.topics import ensure_engine_topics, faust_topics, share_topic_config

    # /healthz answers 503 "starting" from here until Faust's web server takes the port over.
    health = open_startup_health(settings)
    try:
        health.problems = [f"creating the Kafka topics at {settings.broker}"]
        ensure_engine_topics(settings, {settings.topic: settings.topic_partitions,
                                        settings.dead_letter_topic: 1,
                                        **governance_topics(settings), **faust_topics(settings)},
                             {settings.topic: share_topic_config(settings.max_message_bytes)})
        # Compile the numba kernels before the first batch or query, not while a client waits.
        health.problems = ["warming up"]
        warm_up_worker()
        store = migrate_when_reachable(settings, health=health)
    finally:
        health.close()
    app = create_app(settings, store=store)
    tune_gc()
    faust_worker(app, settings.log_level).execute_from_commandline()
