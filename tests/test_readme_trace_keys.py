"""The README explains every key a trace answers (``rumour trace --json`` with ``--parents`` and
``--observe``, and the three trace routes): a liaison officer reading an answer finds each key in
"What a trace's keys mean"."""
from __future__ import annotations

import pathlib
import re

import orjson
import pytest

from tests.service_helpers import cascades, get, served_events

ROOT = pathlib.Path(__file__).resolve().parent.parent


def section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("### What a trace's keys mean")
    return text[start:text.index("\n## ", start)]


def keys_of(value, skip=("parents", "parent_probability")) -> set:
    """Every dict key in ``value``, not descending into ``skip`` (whose keys are event ids)."""
    if isinstance(value, dict):
        out = set(value)
        for k, v in value.items():
            if k not in skip:
                out |= keys_of(v, skip)
        return out
    if isinstance(value, list):
        return set().union(*(keys_of(v, skip) for v in value)) if value else set()
    return set()


def undocumented(keys: set) -> set:
    documented = set(re.findall(r"`([a-z_0-9]+)`", section()))
    return keys - documented


def test_cli_trace_keys_are_explained():
    from streams.settings import Settings
    from streams.trace import run_trace

    # one share lost its parent link: --parents has something to infer
    events = [{**e, "parent_event_id": None} if e["event_id"] == "jn-1-e5" else e for e in cascades()]
    msgs = [(orjson.dumps(e), "x") for e in events]
    keys = set()
    for options in ({"parents": True}, {"observe": 180.0}, {}):
        _, answers = run_trace(msgs, Settings.load({}), 5, **options)
        for _, answer, _ in answers:
            keys |= keys_of(answer)
    assert {"parents", "forecast", "reach", "prevented"} <= keys  # the options were exercised
    assert not undocumented(keys)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from streams.service.tokens import TokenStore

    tokens_path = tmp_path_factory.mktemp("tokens") / "tokens.json"
    with served_events(cascades(), tokens_path) as (_, _, server):
        yield server.url, TokenStore(tokens_path).issue("liaison", "000000", "nat")[0]


@pytest.mark.parametrize("path", ["trace", "trace?parents=1", "events/jn-1-e3/trace", "accounts/hub/trace"])
def test_http_trace_keys_are_explained(served, path):
    url, token = served
    status, _, body = get(f"{url}/api/rumours/jn-1/{path}", token, case="K-1")
    assert status == 200, body
    keys = keys_of(orjson.loads(body))
    assert {"chains", "hops", "scope", "text_sha256"} <= keys
    assert not undocumented(keys)
