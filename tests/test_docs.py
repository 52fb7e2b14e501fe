"""The README documents every setting and the commands the contract names."""
import argparse
import re
from pathlib import Path

from streams.cli import build_parser
from streams.settings import all_settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented_with_env_and_default():
    for s in all_settings():
        row = next((line for line in README.splitlines() if line.startswith(f"| `{s.name}` |")), None)
        assert row is not None, f"setting {s.name} missing from README"
        assert f"`{s.env}`" in row and f"`{s.default}`" in row and s.help in row


def test_readme_starts_with_the_two_commands():
    code = README.split("```bash", 1)[1].split("```", 1)[0]
    lines = [line.split("#")[0].strip() for line in code.strip().splitlines()]
    assert lines == ["bash scripts/demo.sh", "bash scripts/test.sh"]


def test_every_subcommand_is_documented():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name in sub.choices:
        assert f"`rumour {name}" in README, f"rumour {name} missing from README"


def test_every_option_of_rumour_serve_has_help_and_is_in_its_readme_row():
    # --cutoff-k had no help text and the README row named --port alone.
    from streams.service.cli import serve_parser

    row = next(line for line in README.splitlines() if line.startswith("| `rumour serve "))
    for action in serve_parser()._actions:
        if action.dest == "help":
            continue
        assert action.help, f"rumour serve {action.option_strings or action.dest}: no help text"
        for option in action.option_strings:
            assert f"[{option} " in row, f"rumour serve {option} missing from its README row"


def test_every_field_rumour_trace_prints_is_in_its_readme_row():
    import orjson

    from streams.settings import Settings
    from streams.synthetic import synthetic_events
    from streams.trace import run_trace

    row = next(line for line in README.splitlines() if line.startswith("| `rumour trace "))
    events = list(synthetic_events(n_rumours=1, shares_per_rumour=200, seed=3, prefix="doc",
                                   debunk_fraction=0.0))
    messages = [(orjson.dumps(e), "x") for e in events]
    for observe, parents in ((None, False), (None, True), (3600.0, False)):
        _, answers = run_trace(messages, Settings.load({}), 10, observe, parents)
        for _, answer, _ in answers:
            keys = set(answer) | {k for item in answer["origins"] + answer["cutoff"] for k in item}
            assert [k for k in sorted(keys) if f'"{k}"' not in row] == [], (observe, parents)


def _subcommand(parser, name: str):
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


def test_every_option_of_the_other_commands_has_help_and_is_in_its_readme_row():
    # trace's --store, replay's --store / --dead-letters / --progress, evidence verify's --digest /
    # --key-file, token's --tokens-file and every flag of report monthly were in --help only, and
    # token issue's --role / --name had no help. A flag of a setting (--batch-size) is in the
    # settings table instead, which says that every command takes its settings as flags.
    from streams.governance.cli import _parser as report_parser
    from streams.service.cli import evidence_parser, token_parser

    setting_names = {s.name for s in all_settings()}
    commands = [("replay ", _subcommand(build_parser(), "replay")),
                ("trace ", _subcommand(build_parser(), "trace")),
                ("import weibo-ced ", _subcommand(build_parser(), "import")),
                ("mask ", _subcommand(build_parser(), "mask")),
                ("token issue ", _subcommand(token_parser(), "issue")),
                ("token issue ", _subcommand(token_parser(), "list")),
                ("token issue ", _subcommand(token_parser(), "revoke")),
                ("evidence verify ", _subcommand(evidence_parser(), "verify")),
                ("report monthly ", _subcommand(report_parser(), "monthly"))]
    missing = []
    for prefix, parser in commands:
        row = next(line for line in README.splitlines() if line.startswith(f"| `rumour {prefix}"))
        for action in parser._actions:
            if action.dest == "help":
                continue
            if not action.help:
                missing.append(f"{parser.prog} {action.option_strings or action.dest}: no help text")
            if not action.option_strings or action.dest in setting_names:
                continue
            if not any(re.search(re.escape(option) + r"[ \]`|)]", row) for option in action.option_strings):
                missing.append(f"{parser.prog} {action.option_strings[-1]} missing from its README row")
    assert missing == []


def test_worker_help_and_readme_agree_on_flags():
    # README said every setting is also a flag; the governance ones are environment-only.
    from streams.governance.config import GOVERNANCE_SETTINGS
    from streams.settings import SETTINGS

    sub = _subcommand(build_parser(), "worker")
    help_text = " ".join(sub.format_help().split())
    bare = "".join(help_text.split())  # argparse also breaks lines after a hyphen ("shares-\ndead")
    for s in SETTINGS:
        if s.name == "embedded_store":  # not the worker's
            continue
        flag = "--" + s.name.replace("_", "-")
        assert flag in help_text and "".join(s.help.split()) in bare, s.name
        assert "".join(f"[env {s.env}, default {s.default}]".split()) in bare, s.name
    settings_intro = README.split("## Settings", 1)[1].split("| setting |", 1)[0]
    first, last = GOVERNANCE_SETTINGS[0].name, GOVERNANCE_SETTINGS[-1].name
    assert re.search(rf"governance\s+settings, from `{first}` to `{last}`", settings_intro)
    for s in GOVERNANCE_SETTINGS:
        assert "--" + s.name.replace("_", "-") not in help_text, s.name


def test_roles_table_says_which_roles_must_give_a_case_number():
    # the table said it for liaisons only, while admins are refused a trace without one too
    from streams.service.access import PERMISSIONS

    rows = {line.split("|")[1].strip(): line for line in README.splitlines()
            if re.match(r"\| (analyst|liaison|admin|monitor) \|", line)}
    assert set(rows) == set(PERMISSIONS)
    mandatory = "a case number (`X-Case-Id`) is mandatory on every trace and evidence export"
    said = {role for role, row in rows.items() if mandatory in row}
    assert said == {role for role, may in PERMISSIONS.items() if "case_required" in may} == {"liaison", "admin"}
