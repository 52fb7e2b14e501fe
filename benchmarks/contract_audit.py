"""Audit of the `rumour trace` contracts on every real cascade, in variants made here, and on
hostile input (task H5 of session 5; the invariants are in :mod:`benchmarks.contract_checks`).

    python -m benchmarks.contract_audit [--weibo-cascades N] [--seed S] [--json OUT]

imports both archives of ``../shared/data`` in memory (never written into the repo), builds each
variant of every cascade (full links; 30% of parents masked; the origin's post removed, with and
without shares that still name its account; 20% of shares sampled; lines shuffled; duplicates;
malformed lines; one-event rumours; rumours of shares only; equal and reversed timestamps;
non-ASCII 256-character ids), runs :func:`streams.trace.run_trace` (the body of the command) with
``--parents``, ``--observe 0s/1m/1h/100d`` and ``--cutoff-k 0/1/10/huge``, and checks every
answer. Prints a summary and writes JSON (default benchmarks/out/contract_audit.json).
``--weibo-cascades N`` samples N Weibo cascades with the seed (default: all); ``--quick`` runs
only the headline contracts (what fits every Weibo cascade in about half an hour here).
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import orjson

from benchmarks.contract_checks import check_answer, same_answers
from benchmarks.contract_variants import BAD_LINES, VARIANTS, truncate, with_bad_lines
from streams.settings import Settings
from streams.trace import run_trace

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
ARCHIVES = {"weibo-ced": "weibo-ced-dev.tar.gz", "twitter15-16": "twitter15-16-dev.tar.gz"}
HUGE_K = 1_000_000
WINDOWS = {"0s": 0.0, "1m": 60.0, "1h": 3600.0, "100d": 8_640_000.0}


def load(dataset: str, shared: Path) -> dict:
    """``{rumour_id: [event dict, ...]}`` of one archive, in the importer's order."""
    from streams.importers import iter_events

    events, _ = iter_events(dataset, shared / ARCHIVES[dataset])
    out: dict = {}
    for e in events:
        out.setdefault(e["rumour_id"], []).append(e)
    return out


def lines_of(cascades: dict, rng: random.Random | None = None) -> list:
    """The JSONL lines of every event (shuffled across rumours when ``rng`` is given)."""
    lines = [orjson.dumps(e) for evs in cascades.values() for e in evs]
    if rng is not None:
        rng.shuffle(lines)
    return lines


def run(lines, k: int, observe=None, parents=False) -> tuple:
    """``(answers by rumour, seconds by rumour, dead letters, seconds to ingest)``."""
    settings = Settings.load({})
    started = time.perf_counter()
    dead, answers = run_trace(((ln, f"audit:{i}") for i, ln in enumerate(lines)), settings, k,
                              observe, parents)
    out, secs = {}, {}
    ingest = None
    for rid, answer, s in answers:
        if ingest is None:
            ingest = time.perf_counter() - started
        out[rid] = answer
        secs[rid] = s
    return out, secs, dead, ingest if ingest is not None else time.perf_counter() - started


class Audit:
    def __init__(self):
        self.checked = 0
        self.violations: list = []
        self.runs: list = []
        self.slowest: list = []

    def record(self, where: str, problems) -> None:
        for p in problems:
            self.violations.append(f"{where}: {p}")

    def one(self, dataset, variant, cascades, k, observe=None, parents=False, lines=None,
            expect_dead=0, reference=None):
        """Run one variant with one set of flags; check every answer; return the answers."""
        label = f"{dataset}/{variant} k={k} observe={observe} parents={parents}"
        lines = lines_of(cascades) if lines is None else lines
        started = time.perf_counter()
        answers, secs, dead, ingest = run(lines, k, observe, parents)
        total = time.perf_counter() - started
        fed = cascades if observe is None else truncate(cascades, observe)
        if len(dead) != expect_dead:
            reasons = sorted({d.reason[:60] for d in dead})[:5]
            self.record(label, [f"{len(dead)} dead letters, expected {expect_dead}: {reasons}"])
        dead_ids = {(d.rumour_id, d.event_id) for d in dead}
        expected = {r for r, evs in fed.items() if any((r, e["event_id"]) not in dead_ids for e in evs)}
        if set(answers) != expected:
            self.record(label, [f"answered {len(answers)} rumours, expected {len(expected)} "
                                f"(extra {sorted(set(answers) - expected)[:3]}, "
                                f"missing {sorted(expected - set(answers))[:3]})"])
        for rid, answer in answers.items():
            evs = [e for e in fed.get(rid, []) if (rid, e["event_id"]) not in dead_ids]
            self.record(f"{label} rumour {rid}", check_answer(answer, evs, k, parents,
                                                               observe is not None))
            self.checked += 1
        if reference is not None:
            self.record(label, same_answers(reference, answers))
        self.runs.append({"run": label, "rumours": len(answers), "events": len(lines),
                          "seconds": round(total, 2), "ingest_seconds": round(ingest, 2),
                          "dead_letters": len(dead)})
        for rid, s in secs.items():
            self.slowest.append((s, label, rid, answers[rid]["events"] if answers[rid] else 0))
        self.slowest = sorted(self.slowest, reverse=True)[:15]
        print(f"  {label}: {len(answers)} rumours, {total:.1f} s, "
              f"violations so far {len(self.violations)}", file=sys.stderr, flush=True)
        return answers


def audit_quick(audit: Audit, dataset: str, cascades: dict, seed: int) -> None:
    """The headline contracts only (for every cascade of a large archive): full links with
    the author check, --parents on full / masked / origin removed (and masked shuffled),
    --observe 1h --cutoff-k 10 against the pre-truncated file."""
    full = audit.one(dataset, "full", cascades, 10)
    authors = {r: next(e["account_id"] for e in evs if e["kind"] == "post")
               for r, evs in cascades.items() if any(e["kind"] == "post" for e in evs)}
    audit.record(f"{dataset}/full", [f"first origin is not the source post's author: {r}"
                                     for r, a in full.items() if a["origins"][0]["account_id"] != authors.get(r)])
    audit.one(dataset, "full", cascades, 10, parents=True)
    a = audit.one(dataset, "full", cascades, 10, observe=3600.0)
    audit.one(dataset, "truncated_1h", truncate(cascades, 3600.0), 10, observe=3600.0, reference=a)
    for variant in ("masked30", "origin_removed_named"):
        v = VARIANTS[variant](cascades, random.Random(f"{seed}:{variant}"))
        ref = audit.one(dataset, variant, v, 10, parents=True)
        audit.one(dataset, variant + "_shuffled", v, 10, parents=True,
                  lines=lines_of(v, random.Random(seed + 9)), reference=ref)
        audit.one(dataset, variant, v, 10, observe=3600.0)
        audit.one(dataset, variant, v, 10, observe=3600.0, parents=True)


def audit_dataset(audit: Audit, dataset: str, cascades: dict, seed: int) -> None:
    rng = random.Random(seed)
    full = {}
    for parents in (False, True):
        full[parents] = audit.one(dataset, "full", cascades, 10, parents=parents)
    authors = {r: next(e["account_id"] for e in evs if e["kind"] == "post")
               for r, evs in cascades.items() if any(e["kind"] == "post" for e in evs)}
    wrong = [r for r, a in full[False].items() if a and a["origins"][0]["account_id"] != authors.get(r)]
    audit.record(f"{dataset}/full", [f"first origin is not the source post's author: {r}"
                                     for r in wrong])
    for parents in (False, True):
        audit.one(dataset, "shuffled", cascades, 10, parents=parents,
                  lines=lines_of(cascades, random.Random(seed + 1)), reference=full[parents])
    dup = lines_of(cascades)
    dup += random.Random(seed + 2).sample(dup, len(dup) // 10)
    random.Random(seed + 3).shuffle(dup)
    for parents in (False, True):
        audit.one(dataset, "duplicates", cascades, 10, parents=parents, lines=dup,
                  reference=full[parents])
        bad = with_bad_lines(lines_of(cascades), random.Random(seed + 4))
        audit.one(dataset, "bad_lines", cascades, 10, parents=parents, lines=bad,
                  expect_dead=len(BAD_LINES), reference=full[parents])
    for k in (0, 1, HUGE_K):
        audit.one(dataset, "full", cascades, k)
    for name, w in WINDOWS.items():
        ks = (0, 1, 10, HUGE_K) if name == "1h" else (10,)
        for k in ks:
            a = audit.one(dataset, "full", cascades, k, observe=w)
            audit.one(dataset, f"truncated_{name}", truncate(cascades, w), k, observe=w, reference=a)
    for variant, make in VARIANTS.items():
        v = make(cascades, random.Random(f"{seed}:{variant}"))
        ref = {}
        flag_sets = ((False, None), (True, None), (False, 3600.0), (True, 3600.0))
        for parents, observe in flag_sets:
            ref[(parents, observe)] = audit.one(dataset, variant, v, 10, observe, parents)
        # Order: the same events in another order give the same answer, every flag set.
        for parents, observe in flag_sets:
            audit.one(dataset, variant + "_shuffled", v, 10, observe, parents,
                      lines=lines_of(v, random.Random(rng.random())), reference=ref[(parents, observe)])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.contract_audit", description=__doc__)
    ap.add_argument("--weibo-cascades", type=int, default=0, help="sample this many (0 = all)")
    ap.add_argument("--twitter-cascades", type=int, default=0, help="sample this many (0 = all)")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--shared-data", default=str(SHARED))
    ap.add_argument("--json", default=str(ROOT / "benchmarks" / "out" / "contract_audit.json"))
    ap.add_argument("--datasets", default="twitter15-16,weibo-ced")
    ap.add_argument("--quick", action="store_true",
                    help="headline contracts only (9 runs per dataset instead of 85)")
    args = ap.parse_args(argv)
    audit = Audit()
    started = time.perf_counter()
    counts = {}
    for dataset in args.datasets.split(","):
        cascades = load(dataset, Path(args.shared_data))
        n = args.weibo_cascades if dataset == "weibo-ced" else args.twitter_cascades
        if n and n < len(cascades):
            keep = sorted(random.Random(args.seed).sample(sorted(cascades), n))
            cascades = {r: cascades[r] for r in keep}
        counts[dataset] = len(cascades)
        print(f"{dataset}: {len(cascades)} cascades, {sum(map(len, cascades.values()))} events",
              file=sys.stderr, flush=True)
        (audit_quick if args.quick else audit_dataset)(audit, dataset, cascades, args.seed)
    summary = {
        "command": "python -m benchmarks.contract_audit " + " ".join(argv if argv is not None else sys.argv[1:]),
        "cascades": counts,
        "runs": len(audit.runs),
        "answers_checked": audit.checked,
        "violations": len(audit.violations),
        "violation_examples": audit.violations[:200],
        "seconds": round(time.perf_counter() - started, 1),
        "slowest_answers": [{"seconds": round(s, 4), "run": lbl, "rumour": r, "events": n}
                            for s, lbl, r, n in audit.slowest],
        "slowest_runs": sorted(audit.runs, key=lambda x: -x["seconds"])[:10],
        "all_runs": audit.runs,
    }
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    print(orjson.dumps({k: summary[k] for k in ("cascades", "runs", "answers_checked", "violations",
                                               "seconds")}).decode())
    for v in audit.violations[:30]:
        print("VIOLATION", v[:300])
    for s in summary["slowest_answers"][:5]:
        print("slow", s)
    return 1 if audit.violations else 0


if __name__ == "__main__":
    sys.exit(main())
