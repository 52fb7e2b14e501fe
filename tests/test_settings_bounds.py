"""Numeric settings out of their range are refused with the setting's name, from the environment
and from a command-line flag, instead of running with a value that makes no sense (a batch of 0
messages, a negative timeout)."""
from __future__ import annotations

import pytest

from streams.governance.config import GOVERNANCE_SETTINGS, GovernanceConfig
from streams.settings import SETTINGS, Settings, all_settings
from tests.test_cli import rumour

BOUNDED = [s for s in all_settings() if s.minimum is not None or s.maximum is not None]


def test_every_numeric_setting_has_bounds():
    numeric = {s.name for s in all_settings() if s.type in (int, float)}
    assert numeric == {s.name for s in BOUNDED}


def load(setting, overrides=None, environ=None):
    """The setting's value loaded by the class that owns it (the engine's or the governance's)."""
    owner = Settings if setting in SETTINGS else GovernanceConfig
    assert setting in SETTINGS or setting in GOVERNANCE_SETTINGS
    return getattr(owner.load(overrides, environ=environ), setting.name)


@pytest.mark.parametrize("setting", BOUNDED, ids=lambda s: s.name)
def test_out_of_range_values_are_refused_and_edges_accepted(setting):
    # An error names where the value came from: the environment variable, or the flag
    # (governance settings have no flags: an override there is named by the setting alone).
    named = f"{setting.name} \\({setting.env}\\)"
    given = f"{setting.name} \\(--{setting.name.replace('_', '-')}\\)" if setting in SETTINGS else f"{setting.name}"
    edges = [v for v in (setting.minimum, setting.maximum) if v is not None]
    for edge in edges:  # the bounds themselves are allowed
        raw = str(setting.type(edge))
        assert load(setting, environ={setting.env: raw}) == setting.type(edge)
    if setting.minimum is not None:
        below = setting.minimum - (1 if setting.type is int else 0.5)
        with pytest.raises(ValueError, match=named + ": must be at least"):
            load(setting, environ={setting.env: str(setting.type(below))})
    if setting.maximum is not None:
        with pytest.raises(ValueError, match=given + ": must be at most"):
            load(setting, {setting.name: setting.maximum + 1}, environ={})


def test_a_flag_out_of_range_is_a_one_line_error(tmp_path):
    path = tmp_path / "e.jsonl"
    path.write_bytes(b'{"event_id": "o", "rumour_id": "r", "account_id": "a", "ts": 1700000000000, "kind": "post"}\n')
    proc = rumour("trace", path, "--json", "--batch-size", "0", check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert err == "rumour: error: setting batch_size (--batch-size): must be at least 1, got '0'\n", err
    assert proc.stdout == b""


def test_a_bad_environment_value_names_the_variable_not_a_flag_the_command_lacks(tmp_path, monkeypatch, capsys):
    from streams.cli import main

    # `rumour serve` takes no --token-days: the error named that flag (every setting's wording).
    monkeypatch.setenv("RUMOUR_TOKEN_DAYS", "abc")
    assert main(["serve", str(tmp_path / "events.jsonl")]) == 2
    assert capsys.readouterr().err == "rumour: error: setting token_days (RUMOUR_TOKEN_DAYS): expected int, got 'abc'\n"


def test_a_bad_flag_value_names_the_flag_the_command_has(tmp_path, monkeypatch, capsys):
    from streams.cli import main

    # serve's web_port flag is --port (the setting's own --web-port is the worker's); the variable
    # holds a good value, so it is not named.
    monkeypatch.setenv("RUMOUR_WEB_PORT", "6066")
    assert main(["serve", str(tmp_path / "events.jsonl"), "--port", "70000"]) == 2
    assert capsys.readouterr().err == "rumour: error: setting web_port (--port): must be at most 65535, got 70000\n"
