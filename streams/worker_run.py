"""``rumour worker``: the worker process from start to stop. It creates the topics, warms up the
kernels, waits for the store, builds the Faust app (streams/app.py), tunes the collector and
runs Faust's worker in the foreground."""
from __future__ import annotations

import logging
import time

from streams.app import create_app
from streams.settings import Settings
from streams.worker_setup import faust_worker, tune_gc, warm_up_worker

log = logging.getLogger(__name__)


def check_worker_paths(settings: Settings) -> None:
    """Refuse, before anything starts, a ``batch_trace`` file whose folder does not exist (it
    was opened only after the warm-up, and the error named neither the setting nor its variable)."""
    from pathlib import Path

    if settings.batch_trace:
        path = Path(settings.batch_trace)
        where = "setting batch_trace (RUMOUR_BATCH_TRACE, --batch-trace)"
        if path.is_dir():
            raise ValueError(f"{where}: {path} is a folder, not a file")
        if not path.parent.is_dir():
            raise ValueError(f"{where}: folder {path.parent} does not exist")


def migrate_when_reachable(settings: Settings):
    """Open and migrate the store, waiting (with backoff) while it is unreachable: a worker
    started during a ClickHouse outage waits instead of exiting into a crash loop."""
    from streams.store import open_store

    pause = 1.0
    while True:
        store = open_store(settings.clickhouse_url)
        try:
            store.migrate()
            return store
        except Exception as exc:
            store.close()
            log.warning("store %s not ready (%s); trying again in %.0fs", settings.clickhouse_url, exc, pause)
            time.sleep(pause)
            pause = min(pause * 2, 30.0)


def run_worker(settings: Settings) -> None:
    """Run a Faust worker in the foreground until interrupted."""
    from streams.governance.wiring import governance_topics
    from streams.produce import kafka_bootstrap
    from streams.topics import ensure_topics

    ensure_topics(kafka_bootstrap(settings.broker), {settings.topic: settings.topic_partitions,
                                                     settings.dead_letter_topic: 1,
                                                     **governance_topics(settings)})
    # Compile the numba kernels before the first batch or query, not while a client waits.
    warm_up_worker()
    app = create_app(settings, store=migrate_when_reachable(settings))
    tune_gc()
    faust_worker(app, settings.log_level).execute_from_commandline()
