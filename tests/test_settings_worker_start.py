"""`rumour worker` refuses a bad setting at start in one line naming the setting and its
environment variable (exit 2), before it warms up or connects to anything, instead of running
with it or failing later in a traceback (an operator reads the first line of a crash loop)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from streams.governance.config import GovernanceConfig
from streams.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def worker(env: dict, *flags, timeout=60):
    """``rumour worker`` with ``env`` added; nothing here may reach Kafka or ClickHouse (closed
    ports), so a run that gets past the settings fails on them, not on the setting."""
    closed = {"RUMOUR_KAFKA_BROKER": "127.0.0.1:9", "RUMOUR_CLICKHOUSE_URL": "clickhouse://127.0.0.1:9/x",
              "RUMOUR_WEB_PORT": "0"}
    return subprocess.run([sys.executable, "-m", "streams.cli", "worker", *flags], cwd=ROOT,
                          env={**os.environ, **closed, **env}, capture_output=True, timeout=timeout)


def one_line_error(proc) -> str:
    err = proc.stderr.decode()
    assert proc.returncode == 2, err[-2000:]
    assert err.count("\n") == 1 and err.startswith("rumour: error: setting "), err[-2000:]
    return err


def test_log_level_outside_its_choices_is_refused_and_capitals_are_read():
    # "loud" was accepted and ended in Faust's "CANNOT SETUP LOGGING" traceback after the warm-up.
    with pytest.raises(ValueError, match=r"log_level \(RUMOUR_LOG_LEVEL\): expected one of "
                                         r"debug, info, warning, error, got 'loud'"):
        Settings.load(environ={"RUMOUR_LOG_LEVEL": "loud"})
    assert Settings.load(environ={"RUMOUR_LOG_LEVEL": "WARNING"}).log_level == "warning"
    err = one_line_error(worker({"RUMOUR_LOG_LEVEL": "loud"}))
    assert "log_level (RUMOUR_LOG_LEVEL)" in err


def test_an_unknown_alert_level_is_refused():
    # "planet" was accepted: no unit of such a level exists, so no alert was ever raised.
    with pytest.raises(ValueError, match=r"alert_levels \(RUMOUR_ALERT_LEVELS\): unknown level 'planet'"):
        GovernanceConfig.load(environ={"RUMOUR_ALERT_LEVELS": "city,planet"})
    assert GovernanceConfig.load(environ={"RUMOUR_ALERT_LEVELS": "province, county"}).levels == ("province", "county")
    err = one_line_error(worker({"RUMOUR_ALERT_LEVELS": "planet"}))
    assert "alert_levels (RUMOUR_ALERT_LEVELS)" in err


def test_a_setting_with_its_own_parser_says_what_is_wrong():
    with pytest.raises(ValueError, match=r"report_timezone \(RUMOUR_REPORT_TIMEZONE\): unknown time zone 'Mars/Base'"):
        GovernanceConfig.load(environ={"RUMOUR_REPORT_TIMEZONE": "Mars/Base"})


def test_a_malformed_broker_is_refused_with_its_setting():
    # "nonsense://x:y" failed in int() ("invalid literal for int() with base 10: 'y'").
    err = one_line_error(worker({"RUMOUR_KAFKA_BROKER": "nonsense://x:y"}))
    assert "broker (RUMOUR_KAFKA_BROKER): expected host:port" in err
    assert Settings.load(environ={"RUMOUR_KAFKA_BROKER": "kafka://k1:9092;k2:9092"}).broker == "kafka://k1:9092;k2:9092"


def test_a_batch_trace_in_a_missing_folder_is_refused_before_the_start(tmp_path):
    missing = tmp_path / "no-such-folder" / "trace.jsonl"
    err = one_line_error(worker({"RUMOUR_BATCH_TRACE": str(missing)}))
    assert err == (f"rumour: error: setting batch_trace (RUMOUR_BATCH_TRACE, --batch-trace): "
                   f"folder {missing.parent} does not exist\n")


def test_kafka_unreachable_at_start_is_one_line_and_exit_3():
    # It was a KafkaConnectionError traceback and exit 1; README: 3 when Kafka cannot be reached.
    proc = worker({})
    err = proc.stderr.decode()
    assert proc.returncode == 3, err[-2000:]
    # aiokafka's own log line may come first (the worker keeps its logging); no traceback.
    assert "Traceback" not in err, err[-2000:]
    assert err.splitlines()[-1].startswith("rumour: error: Kafka at 127.0.0.1:9 unreachable"), err[-2000:]


def test_a_tokens_file_that_is_no_tokens_file_is_refused_at_start(tmp_path):
    # The worker started with it and answered every protected request 503 (rumour serve refused it).
    from streams.worker_run import check_worker_tokens

    spoilt = tmp_path / "tokens.json"
    spoilt.write_text("not json", encoding="utf-8")
    settings = Settings.load({"tokens_file": str(spoilt)}, environ={})
    with pytest.raises(ValueError) as caught:
        check_worker_tokens(settings)
    message = str(caught.value)
    assert message.startswith("setting tokens_file (RUMOUR_TOKENS_FILE, --tokens-file): tokens file ")
    assert str(spoilt) in message and "\n" not in message
    # a missing or empty file is no error (no token issued yet), and one with tokens passes
    check_worker_tokens(Settings.load({"tokens_file": str(tmp_path / "none.json")}, environ={}))
    spoilt.write_text("", encoding="utf-8")
    check_worker_tokens(settings)
    # through the command: one line, exit 2, before Kafka is tried (its broker is a closed port)
    spoilt.write_text("[1, 2]", encoding="utf-8")
    proc = worker({"RUMOUR_TOKENS_FILE": str(spoilt)})
    err = one_line_error(proc)
    assert str(spoilt) in err and "tokens_file (RUMOUR_TOKENS_FILE, --tokens-file)" in err
