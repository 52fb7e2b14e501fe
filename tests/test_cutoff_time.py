"""Cut-off at time t: greedy coverage against brute force, features, the --observe cut."""
import itertools

import numpy as np
import pytest

from graph import cutoff_time as ct


def _covered_value(par, acct, value, S):
    total = 0.0
    for i in range(len(par)):
        if acct[i] not in S:
            continue
        x, under = par[i], False
        while x >= 0:
            if acct[x] in S:
                under = True
            x = par[x]
        if not under:
            total += value[i]
    return total


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_greedy_first_pick_is_best_single_and_gains_add_up(seed):
    rng = np.random.default_rng(seed)
    n = 30
    par = np.array([-1] + [int(rng.integers(0, i)) for i in range(1, n)])
    acct = rng.integers(0, 8, n)
    own = rng.random(n)
    value = own.copy()  # a node's value = its subtree's own values (as forecast() gives)
    for i in range(n - 1, 0, -1):
        value[par[i]] += value[i]
    picks = ct.greedy_accounts(par, acct, value, 3, excluded=[acct[0]])
    singles = {a: _covered_value(par, acct, value, {a}) for a in set(acct.tolist()) - {acct[0]}}
    assert picks[0][1] == pytest.approx(max(singles.values()))
    S = {a for a, _ in picks}
    assert sum(g for _, g in picks) == pytest.approx(_covered_value(par, acct, value, S))
    best3 = max(_covered_value(par, acct, value, set(c)) for c in itertools.combinations(singles, 3))
    assert sum(g for _, g in picks) >= (1 - 1 / np.e) * best3 - 1e-9


def test_features_count_recent_growth():
    par = np.array([-1, 0, 0, 1])
    ts = np.array([0.0, 100, 3300, 3500])
    f = ct.event_features(par, ts, np.ones(4, bool), 3600.0)
    recent = np.expm1(f[:, ct.FEATURE_NAMES.index("log_recent")]).round().tolist()
    assert recent == [2, 1, 1, 1]  # root: events 2 and 3 within 10 min; 1: event 3


def test_parse_duration():
    from streams.trace import parse_duration

    assert parse_duration("2h") == 7200 and parse_duration("45") == 45


def test_cli_observe_and_parents(tmp_path, capsys):
    import orjson

    from streams.cli import main

    rows = [("o", "src", 0, None, "post"), ("a", "hub", 5, "o", "share"), ("b", "x", 6, "a", "share"),
            ("c", "y", 7, None, "share"), ("d", "z", 127, "a", "share")]
    path = tmp_path / "e.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps({
        "event_id": e, "rumour_id": "r", "account_id": a, "ts": 1_577_836_800_000 + m * 60_000,
        "parent_event_id": p, "kind": k}) for e, a, m, p, k in rows))
    assert main(["trace", str(path), "--json", "--observe", "1h", "--cutoff-k", "2", "--parents"]) == 0
    answer = orjson.loads(capsys.readouterr().out)
    assert answer["events"] == 4  # d came two hours later
    assert set(answer["parents"]) == {"c"}
    assert [c["account_id"] for c in answer["cutoff"]] == ["hub"]
    assert all(0 <= o["confidence"] <= 1 for o in answer["origins"])


def test_account_history_uses_other_cascades_before_t_only():
    from benchmarks.accuracy_cutoff import account_history, prior_of
    from benchmarks.real_cascades import RealCascade

    def cas(rid, accounts, ts, parents):
        return RealCascade(rid, [f"{rid}{i}" for i in range(len(accounts))], accounts,
                           np.array(ts, np.int64), np.array(parents), ["post"] + ["share"] * (len(accounts) - 1),
                           [None] * len(accounts), "rumor")

    a = cas("a", ["o", "hub", "x", "y"], [0, 10, 20, 500], [-1, 0, 1, 1])   # hub draws x (t=20), y (t=500)
    b = cas("b", ["o2", "hub", "z"], [100, 110, 120], [-1, 0, 1])           # hub draws z (t=120)
    h = account_history([a, b])
    assert "x" not in h  # accounts seen once are not kept
    assert prior_of(h, 1, ["hub"], 300).tolist() == [1.0]   # from a: x only (y is after t)
    assert prior_of(h, 1, ["hub"], 1000).tolist() == [2.0]
    assert prior_of(h, 0, ["hub"], 1000).tolist() == [1.0]  # its own cascade never counts
    assert prior_of(h, 0, ["hub"], 50).tolist() == [0.0]
