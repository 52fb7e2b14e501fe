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
    cut = answer["cutoff"]
    assert cut[0]["account_id"] == "hub" and "src" not in [c["account_id"] for c in cut]
    # accounts under hub add only their own forecast new shares, never more than hub's subtree
    assert all(c["forecast"] <= cut[0]["forecast"] for c in cut[1:])
    assert all(0 <= o["confidence"] <= 1 for o in answer["origins"])


def test_observe_does_not_run_the_whole_cascade_cut_off(tmp_path, capsys, monkeypatch):
    # `rumour trace --observe` ran the greedy cut-off on the whole cascade and then replaced it
    # with the observed window's forecast one: the first run is never printed.
    import orjson

    from graph import answers
    from streams.cli import main

    greedy = answers.kc.greedy_cutoff
    runs = []

    def counted(*args):
        runs.append(args[8])  # k
        return greedy(*args)

    monkeypatch.setattr(answers.kc, "greedy_cutoff", counted)
    path = tmp_path / "e.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps({
        "event_id": e, "rumour_id": "r", "account_id": a, "ts": 1_577_836_800_000 + m * 60_000,
        "parent_event_id": p}) for e, a, m, p in [("o", "src", 0, None), ("a", "hub", 5, "o"),
                                                  ("b", "x", 6, "a"), ("c", "y", 7, "a")]))
    for flags in (["--observe", "1h"], ["--observe", "1h", "--parents"]):
        assert main(["trace", str(path), "--json", "--cutoff-k", "2", *flags]) == 0
        answer = orjson.loads(capsys.readouterr().out)
        assert answer["cutoff"][0]["account_id"] == "hub" and "forecast" in answer["cutoff"][0]
        assert runs == [], flags
    # the plain trace and --parents alone print the whole cascade's cut-off: it runs there
    for flags in ([], ["--parents"]):
        assert main(["trace", str(path), "--json", "--cutoff-k", "2", *flags]) == 0
        assert orjson.loads(capsys.readouterr().out)["cutoff"] == [{"account_id": "hub", "prevented": 2}]
        assert runs == [2], flags
        runs.clear()


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


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_greedy_bonus_adds_to_the_covered_value(seed):
    rng = np.random.default_rng(seed)
    n = 25
    par = np.array([-1] + [int(rng.integers(0, i)) for i in range(1, n)])
    acct = rng.integers(0, 7, n)
    value = rng.random(n)
    for i in range(n - 1, 0, -1):
        value[par[i]] += value[i]
    bonus = {int(a): float(rng.random() * 3) for a in set(acct.tolist())}
    picks = ct.greedy_accounts(par, acct, value, 3, excluded=[acct[0]], bonus=bonus)
    S = {a for a, _ in picks}
    assert sum(g for _, g in picks) == pytest.approx(_covered_value(par, acct, value, S) + sum(bonus[a] for a in S))
    singles = {a: _covered_value(par, acct, value, {a}) + bonus[a] for a in set(acct.tolist()) - {acct[0]}}
    assert picks[0][1] == pytest.approx(max(singles.values()))


def test_leaf_and_account_features_match_a_direct_count():
    rng = np.random.default_rng(5)
    n = 40
    par = np.array([-1] + [int(rng.integers(0, i)) for i in range(1, n)])
    ts = np.sort(rng.random(n)) * 3600
    acct = rng.integers(0, 6, n)
    f = ct.event_features(par, ts, np.ones(n, bool), 3600.0)
    assert f[:, ct.FEATURE_NAMES.index("leaf")].tolist() == [float(i not in set(par.tolist())) for i in range(n)]
    ids, rows = ct.account_features(acct, ts, np.ones(n, bool), 3600.0)
    for a, r in zip(ids.tolist(), rows):
        mine = ts[acct == a]
        assert np.expm1(r[1:]).round().tolist() == [len(mine), int((mine > 3000).sum())]


def test_account_rows_count_later_shares_via_new_events_only():
    from benchmarks.accuracy_cutoff import account_rows
    from benchmarks.real_cascades import RealCascade

    # hub shares at 10 s (x joins under it after t: covered at t already), then shares again
    # after t and draws y, z: its new share and those two are what only suspension prevents.
    accounts = ["o", "hub", "x", "hub", "y", "z", "w"]
    ts = np.array([0, 10, 4000, 4100, 4200, 4300, 20], np.int64) * 1000
    parents = np.array([-1, 0, 1, 0, 3, 4, 0])
    c = RealCascade("r", [f"e{i}" for i in range(7)], accounts, ts, parents,
                    ["post"] + ["share"] * 6, [None] * 7, "rumor")
    ids, F, y = account_rows(c, 3600.0)
    got = dict(zip(ids.tolist(), y.tolist()))
    assert got == {1: 3.0, 5: 0.0}  # hub: its new event (4100) and y, z under it; w: nothing


def test_bounds_truth_counts_later_growth_and_paths():
    from benchmarks.cutoff_bounds import _truth, fold_of
    from benchmarks.real_cascades import RealCascade

    accounts = ["o", "a", "b", "c", "d", "e"]
    ts = np.array([0, 10, 20, 4000, 4100, 4200], np.int64) * 1000  # t = 3600 s: o, a, b seen
    parents = np.array([-1, 0, 1, 1, 3, 0])
    c = RealCascade("r", list("012345"), accounts, ts, parents, ["post"] + ["share"] * 5, [None] * 6, "rumor")
    ts_s, t, acct, par, fut, leaf, paths = _truth(c, 3600.0)
    assert fut.tolist() == [3.0, 2.0, 0.0]  # o: c, d, e; a: c, d; b: nothing
    assert leaf.tolist() == [False, False, True]
    assert paths == [{1}, {1}, set()]  # e hangs off the origin: no eligible account prevents it
    assert {fold_of(x, 5, 0) for x in "abcdefghij"} <= set(range(5))
