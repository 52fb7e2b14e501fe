"""The `rumour` command on unreadable input and in a shell: a one-line error and an exit code that
says failure instead of a traceback, help that runs for every command."""
from __future__ import annotations

import asyncio
import gzip
import subprocess
import sys

import orjson
import pytest

from benchmarks.cli import BENCHMARKS
from streams.cli import DELEGATED, build_parser, main
from streams.inputs import iter_messages
from tests.test_cli import jsonl, rumour
from tests.test_kafka_service import _consume

EVENTS = [{"event_id": "o", "rumour_id": "r1", "account_id": "src", "ts": 1_700_000_000_000, "kind": "post"}] + [
    {"event_id": f"s{i}", "rumour_id": "r1", "account_id": f"u{i}", "ts": 1_700_000_000_000 + 60_000 * i,
     "parent_event_id": "o"} for i in range(1, 200)]


def truncated_gz(path):
    data = gzip.compress(jsonl(EVENTS))
    path.write_bytes(data[: len(data) // 2])
    return path


def unreadable_inputs(tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    not_gzip = tmp_path / "plain.jsonl.gz"
    not_gzip.write_bytes(jsonl(EVENTS))
    return {"folder": folder, "truncated gzip": truncated_gz(tmp_path / "cut.jsonl.gz"),
            "not gzip": not_gzip}


@pytest.mark.parametrize("kind", ["folder", "truncated gzip", "not gzip"])
@pytest.mark.parametrize("command", [["trace", "--json"], ["replay", "--store", "none"]])
def test_unreadable_input_is_a_one_line_error(tmp_path, kind, command):
    path = unreadable_inputs(tmp_path)[kind]
    proc = rumour(command[0], path, *command[1:], check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert err.startswith("rumour: error: ") and err.count("\n") == 1 and str(path) in err, err
    assert proc.stdout == b""  # no answer from part of the input


def test_truncated_gzip_names_the_last_line_read(tmp_path):
    path = truncated_gz(tmp_path / "cut.jsonl.gz")
    seen = []
    with pytest.raises(ValueError, match=r"after line (\d+)") as info:
        for _, source in iter_messages([path]):
            seen.append(source)
    # Every line read before the damage was yielded, and the error says where it stopped.
    assert seen and f"after line {len(seen)}:" in str(info.value)
    assert seen[-1] == f"{path}:{len(seen)}"


def test_gzip_and_plain_inputs_still_read_whole(tmp_path):
    plain, packed = tmp_path / "a.jsonl", tmp_path / "a.jsonl.gz"
    plain.write_bytes(jsonl(EVENTS))
    packed.write_bytes(gzip.compress(jsonl(EVENTS)))
    assert [m for m, _ in iter_messages([plain])] == [m for m, _ in iter_messages([packed])]
    assert len(list(iter_messages([plain, packed]))) == 2 * len(EVENTS)


COMMANDS = sorted(next(a for a in build_parser()._actions if a.dest == "command").choices)


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_working_help(name, capsys):
    with pytest.raises(SystemExit) as exit_info:
        if name in DELEGATED:
            sys.exit(main([name, "--help"]))
        build_parser().parse_args([name, "--help"])
    assert exit_info.value.code == 0
    assert "usage: rumour" in capsys.readouterr().out


def test_top_level_help_names_every_benchmark(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    bench_line = text.split("bench ", 1)[1].split(" serve ", 1)[0]
    assert [name for name in BENCHMARKS if name not in bench_line] == []


@pytest.mark.parametrize("value", ["abc", "1w", "-1h", "nan"])
def test_bad_observe_duration_says_what_a_duration_is(tmp_path, value):
    path = tmp_path / "in.jsonl"
    path.write_bytes(jsonl(EVENTS))
    proc = rumour("trace", path, "--json", f"--observe={value}", check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 2 and err.startswith("rumour: error: --observe") and "30m" in err, err


def test_closed_stdout_ends_quietly_with_a_failure_code(tmp_path):
    # More rumours than a pipe buffer holds, and the reader gone before the first answer.
    events = [dict(e, rumour_id=f"r{r}") for r in range(400) for e in EVENTS[:3]]
    path = tmp_path / "in.jsonl"
    path.write_bytes(jsonl(events))
    proc = subprocess.Popen([sys.executable, "-m", "streams.cli", "trace", str(path), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=600) == 141
    assert b"Traceback" not in err and b"Exception ignored" not in err, err


def test_open_stdout_gets_every_answer(tmp_path):
    events = [dict(e, rumour_id=f"r{r}") for r in range(5) for e in EVENTS[:3]]
    path = tmp_path / "in.jsonl"
    path.write_bytes(jsonl(events))
    answers = [orjson.loads(x) for x in rumour("trace", path, "--json").stdout.splitlines()]
    assert [a["rumour_id"] for a in answers] == [f"r{r}" for r in range(5)]


def test_non_utf8_line_is_a_dead_letter_naming_the_byte(tmp_path):
    path, dead = tmp_path / "in.jsonl", tmp_path / "dead.jsonl"
    bad = b'{"event_id": "x", "rumour_id": "r1", "account_id": "caf\xe9", "ts": 1700000000000}'
    path.write_bytes(jsonl(EVENTS[:3]) + bad + b"\n")
    answers = rumour("trace", path, "--json", "--dead-letters", dead).stdout.splitlines()
    assert orjson.loads(answers[0])["events"] == 3
    [letter] = [orjson.loads(x) for x in dead.read_bytes().splitlines()]
    assert letter["source"] == f"{path}:4"
    assert letter["reason"] == f"invalid JSON: not UTF-8 (byte 0xe9 at offset {bad.index(b'caf') + 3})"


@pytest.mark.parametrize("content", [b"", b"\n\n", b"{oops\n[]\n"])
def test_trace_with_nothing_to_trace_says_so_and_fails(tmp_path, content):
    path = tmp_path / "in.jsonl"
    path.write_bytes(content)
    proc = rumour("trace", path, "--json", check=False)
    assert proc.returncode == 1 and proc.stdout == b""
    assert b"no valid events in the input" in proc.stderr
    assert (b"2 dead letters" in proc.stderr) == (b"oops" in content)


@pytest.mark.parametrize("command", [["trace", "--json"], ["replay", "--store", "none"]])
@pytest.mark.parametrize("where", ["missing folder", "a folder"])
def test_dead_letters_file_that_cannot_be_written_is_refused_first(tmp_path, command, where):
    path = tmp_path / "in.jsonl"
    path.write_bytes(jsonl(EVENTS) + b"{oops\n")
    target = tmp_path / "absent" / "dead.jsonl" if where == "missing folder" else tmp_path
    proc = rumour(command[0], path, *command[1:], "--dead-letters", target, check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 2 and proc.stdout == b"", err
    assert err.startswith("rumour: error: --dead-letters ") and err.count("\n") == 1, err


@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_every_benchmark_help_names_the_command_that_runs_it(name, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", name, "--help"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: rumour bench {name} ")


def test_missing_second_input_is_refused_before_the_first_is_read(tmp_path):
    good = tmp_path / "a.jsonl"
    good.write_bytes(jsonl(EVENTS))
    with pytest.raises(FileNotFoundError, match="absent.jsonl"):
        iter_messages([good, tmp_path / "absent.jsonl"])  # on the call, before any message
    # produce checks its files before it connects: a file error (2), not an unreachable broker (3)
    proc = rumour("produce", good, tmp_path / "absent.jsonl", "--broker", "kafka://127.0.0.1:1", check=False)
    assert proc.returncode == 2 and b"no such input file" in proc.stderr


def test_unreachable_services_are_a_one_line_error_with_exit_3(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes(jsonl(EVENTS))
    proc = rumour("migrate", "--url", "clickhouse://127.0.0.1:1/x?retry_seconds=1", check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 3 and err.startswith("rumour: error: clickhouse-server at 127.0.0.1:1 unreachable")
    assert err.count("\n") == 1, err
    proc = rumour("produce", path, "--broker", "kafka://127.0.0.1:1", check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 3 and "Traceback" not in err, err
    assert err.splitlines()[-1].startswith("rumour: error: Kafka at kafka://127.0.0.1:1 unreachable"), err


def test_produce_still_sends_every_file_once_checked(tmp_path, kafka_bootstrap, kafka_topic):
    topic = kafka_topic(partitions=2, prefix="fresh-produce")
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl.gz"
    a.write_bytes(jsonl(EVENTS[:120]))
    b.write_bytes(gzip.compress(jsonl(EVENTS[120:])))
    out = rumour("produce", a, b, "--broker", f"kafka://{kafka_bootstrap}", "--topic", topic).stdout
    assert orjson.loads(out) == {"messages": len(EVENTS), "topic": topic}
    got = asyncio.run(_consume(kafka_bootstrap, topic, len(EVENTS), 60.0))
    assert sorted(orjson.loads(r.value)["event_id"] for r in got) == sorted(e["event_id"] for e in EVENTS)


@pytest.mark.parametrize("flags", [["--parents"], ["--observe", "1h"]])
def test_trace_store_with_parents_or_observe_is_refused_not_ignored(tmp_path, flags):
    path = tmp_path / "in.jsonl"
    path.write_bytes(jsonl(EVENTS))
    db = tmp_path / "db"
    proc = rumour("trace", path, "--json", "--store", f"chdb://{db}", *flags, check=False)
    assert proc.returncode == 2 and b"--store cannot be combined" in proc.stderr
    assert proc.stdout == b"" and not db.exists()
    # without those flags the events are stored (read back in a process of its own: one chDB
    # session per process)
    rumour("trace", path, "--json", "--store", f"chdb://{db}")
    read = ("from streams.store import open_store; s = open_store(%r); print(s.rumour_ids()); s.close()"
            % f"chdb://{db}")
    out = subprocess.run([sys.executable, "-c", read], capture_output=True, timeout=600, check=True)
    assert out.stdout.strip() == b"['r1']"


def test_gzip_content_is_read_whatever_the_file_name_and_on_stdin(tmp_path):
    plain, misnamed = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    plain.write_bytes(jsonl(EVENTS))
    misnamed.write_bytes(gzip.compress(jsonl(EVENTS)))
    want = rumour("trace", plain, "--json").stdout
    assert rumour("trace", misnamed, "--json").stdout == want
    piped = subprocess.run([sys.executable, "-m", "streams.cli", "trace", "-", "--json"],
                           input=misnamed.read_bytes(), capture_output=True, timeout=600)
    assert piped.returncode == 0 and piped.stdout == want


def test_serve_on_a_port_in_use_is_refused_before_the_replay(tmp_path):
    import socket
    import time

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        t0 = time.monotonic()
        events = tmp_path / "events.jsonl"
        events.write_bytes(jsonl(EVENTS))
        proc = rumour("serve", events, "--port", str(port), "--host", "127.0.0.1",
                      "--store", "chdb://", "--tokens-file", str(tmp_path / "tokens.json"), check=False)
        err = proc.stderr.decode()
    finally:
        taken.close()
    assert proc.returncode == 2, err
    assert err.startswith(f"rumour: error: cannot listen on 127.0.0.1:{port}") and err.count("\n") == 1, err
    assert "replayed" not in err  # refused first: no replay into a store it could never serve
    assert time.monotonic() - t0 < 120


def test_serve_reports_file_missing_is_refused_before_the_replay(tmp_path):
    events = tmp_path / "events.jsonl"
    events.write_bytes(jsonl(EVENTS))
    missing = tmp_path / "no-such-reports.jsonl"
    proc = rumour("serve", events, "--port", "0", "--host", "127.0.0.1", "--store", "chdb://",
                  "--reports", missing, "--tokens-file", str(tmp_path / "tokens.json"), check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert err.startswith("rumour: error: ") and str(missing) in err and "replayed" not in err, err
    assert err == f"rumour: error: {missing}: no such file or directory\n", err  # no [Errno 2]
    # A folder given as the reports file is bad input too (it ended in a traceback).
    proc = rumour("serve", events, "--port", "0", "--host", "127.0.0.1", "--store", "chdb://",
                  "--reports", tmp_path, "--tokens-file", str(tmp_path / "tokens.json"), check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 2 and err == f"rumour: error: {tmp_path}: is a directory\n", err


def test_serve_reports_bad_lines_are_refused_one_by_one(tmp_path, capsys):
    from streams.service.cli import _take_reports

    class Hub:
        def __init__(self):
            self.got = []

        def submit_report(self, payload, source):
            self.got.append(payload)
            return (201, {}) if payload.get("reporter") else (400, {"error": "reporter: required"})

    path = tmp_path / "reports.jsonl"
    path.write_bytes(b'{"reporter": "a", "text": "x"}\n{not json\n\n{"text": "y"}\n{"reporter": "b", "text": "z"}\n')
    hub = Hub()
    _take_reports(hub, path)
    err = capsys.readouterr().err
    assert [p["reporter"] for p in hub.got if "reporter" in p] == ["a", "b"]  # the rest went on
    assert f"{path}:2: report refused: invalid JSON" in err
    assert f"{path}:4: report refused: reporter: required" in err
    assert "reports: 2 taken in, 2 refused" in err


def test_a_huge_line_is_read_past_not_held_and_becomes_one_dead_letter(tmp_path):
    from streams.inputs import OversizedLine

    huge = b'{"event_id": "' + b"x" * 3_000_000  # 3 MB and no newline before the next event
    path = tmp_path / "huge.jsonl"
    path.write_bytes(jsonl(EVENTS[:1]) + huge + b"\n" + jsonl(EVENTS[1:]))
    got = list(iter_messages([path], max_line_bytes=1_000_000))
    assert len(got) == len(EVENTS) + 1
    line, source = got[1]
    assert isinstance(line, OversizedLine) and len(line) == 1_000_001 and line.size == len(huge)
    assert source == f"{path}:2"
    # The command: the other events are traced, the huge line is one dead letter with its size.
    dead = tmp_path / "dead.jsonl"
    proc = rumour("trace", path, "--json", "--max-message-bytes", "1000000", "--dead-letters", dead)
    (answer,) = [orjson.loads(x) for x in proc.stdout.splitlines()]
    assert answer["events"] == len(EVENTS)
    (letter,) = [orjson.loads(x) for x in dead.read_bytes().splitlines()]
    assert letter["reason"].startswith(f"message too large: {len(huge)} bytes") and letter["source"] == f"{path}:2"


def test_serve_says_why_lines_were_not_served_and_keeps_them_with_dead_letters(tmp_path):
    # A malformed line among good ones: the summary said `dead_letters: 1` and nothing else,
    # and the line with its reason stayed in a temporary store the API does not show.
    events = tmp_path / "events.jsonl"
    events.write_bytes(jsonl(EVENTS[:2]) + b"a,b,c\n" + jsonl(EVENTS[2:]))
    dead = tmp_path / "dead.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "streams.cli", "serve", str(events), "--port", "0",
                             "--host", "127.0.0.1", "--store", "chdb://", "--dead-letters", str(dead),
                             "--tokens-file", str(tmp_path / "tokens.json")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        serving = proc.stdout.readline().decode()  # written once the replay is over
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=60)
    assert serving.startswith("serving http://127.0.0.1:"), err
    err = err.decode()
    assert f"rumour: 1 dead letters (not served; first: {events}:3: invalid JSON" in err, err
    letters = [orjson.loads(line) for line in dead.read_bytes().splitlines()]
    assert [(d["source"], d["raw"]) for d in letters] == [(f"{events}:3", "a,b,c")]
    assert letters[0]["reason"].startswith("invalid JSON")
    assert f"'stored': {len(EVENTS)}" in err  # the rest went on


def _serve_stderr(events, tokens) -> tuple[str, str]:
    proc = subprocess.Popen([sys.executable, "-m", "streams.cli", "serve", str(events), "--port", "0",
                             "--host", "127.0.0.1", "--store", "chdb://", "--tokens-file", str(tokens)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        serving = proc.stdout.readline().decode()
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=60)
    return serving, err.decode()


def test_serve_on_a_tokens_file_without_a_token_says_how_to_get_one(tmp_path):
    # The first `rumour serve` of an install printed where the tokens file was and nothing
    # else: the dashboard then asked for a token nobody had, and every /api/ call was a 401.
    from streams.service.tokens import TokenStore

    events = tmp_path / "events.jsonl"
    events.write_bytes(jsonl(EVENTS))
    tokens = tmp_path / "keys" / "tokens.json"
    serving, err = _serve_stderr(events, tokens)
    assert serving.startswith("serving http://127.0.0.1:"), err
    assert f"note: no active API token in {tokens}: the dashboard and API answer 401" in err, err
    assert f"rumour token issue --role analyst --jurisdiction CODE --tokens-file {tokens}" in err
    store = TokenStore(tokens)
    _, first = store.issue("analyst", "310000")
    store.revoke(first.id)
    assert "no active API token" in _serve_stderr(events, tokens)[1]  # a revoked one does not count
    store.issue("liaison", "310000")
    serving, err = _serve_stderr(events, tokens)
    assert serving.startswith("serving http://127.0.0.1:") and "no active API token" not in err, err
