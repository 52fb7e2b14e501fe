"""The contract audit (benchmarks/contract_audit.py) on a seeded sample of real cascades:
the headline variants and flag sets, every invariant, order and window checks. The full run
over every cascade and variant is the audit script itself (benchmarks/RESULTS.md)."""
from __future__ import annotations

import random

import pytest

from benchmarks import contract_audit as ca
from benchmarks.contract_variants import VARIANTS, truncate
from streams.importers import iter_events


def sample(shared_data, dataset, first: int, n: int, seed: int) -> dict:
    """n of the first ``first`` cascades the importer streams (stopping early keeps it quick)."""
    events, _ = iter_events(dataset, shared_data / ca.ARCHIVES[dataset])
    out: dict = {}
    for e in events:
        if e["rumour_id"] not in out and len(out) == first:
            break
        out.setdefault(e["rumour_id"], []).append(e)
    keep = random.Random(seed).sample(sorted(out), min(n, len(out)))
    return {r: out[r] for r in sorted(keep)}


@pytest.mark.shared_data
@pytest.mark.slow
@pytest.mark.parametrize("dataset, n", [("twitter15-16", 12), ("weibo-ced", 12)])
def test_contracts_hold_on_a_sample_of_real_cascades(shared_data, dataset, n):
    cascades = sample(shared_data, dataset, 120, n, seed=5)
    audit = ca.Audit()
    full = audit.one(dataset, "full", cascades, 10)
    for rid, answer in full.items():
        author = next(e["account_id"] for e in cascades[rid] if e["kind"] == "post")
        assert answer["origins"][0]["account_id"] == author
    rng = random.Random(7)
    for variant in ("masked30", "origin_removed_named", "shares_only", "equal_ts", "reversed_ts"):
        v = VARIANTS[variant](cascades, random.Random(variant))
        for parents, observe in ((True, None), (False, 3600.0), (True, 3600.0)):
            ref = audit.one(dataset, variant, v, 10, observe, parents)
            audit.one(dataset, variant + "_shuffled", v, 10, observe, parents,
                      lines=ca.lines_of(v, random.Random(rng.random())), reference=ref)
    for k in (0, ca.HUGE_K):
        ref = audit.one(dataset, "full", cascades, k, observe=60.0)
        audit.one(dataset, "truncated_1m", truncate(cascades, 60.0), k, observe=60.0, reference=ref)
    assert audit.checked == n * 35
    assert audit.violations == []
