"""Option types shared by the benchmarks' command lines: a bad value (``--trials 0``, an unknown
model, a duration that is not one) is one argparse error line
and exit 2 before anything runs, not a traceback minutes later."""
from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """An integer >= 1 (trials, nodes, sizes, samples).

    >>> positive_int("3")
    3
    >>> positive_int("0")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: '0' is not a whole number >= 1
    """
    return _int_at_least(text, 1)


def graph_nodes(text: str) -> int:
    """Nodes of an er, ws or ba contact graph (``--nodes``): a whole number of at least
    ``generators.MIN_NODES``, refused before a run that would fail in its first trial.

    >>> graph_nodes("300")
    300
    >>> graph_nodes("5")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: '5' is too few nodes for the er, ws and ba graphs (a whole number >= 10)
    """
    from benchmarks.generators import MIN_NODES

    try:
        return _int_at_least(text, MIN_NODES)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"{text!r} is too few nodes for the er, ws and ba graphs "
                                         f"(a whole number >= {MIN_NODES})") from None


def non_negative_int(text: str) -> int:
    """An integer >= 0 (counts where 0 means "none").

    >>> non_negative_int("0")
    0
    """
    return _int_at_least(text, 0)


def _int_at_least(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= {low}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= {low}")
    return value


def probability(text: str) -> float:
    """A number in [0, 1].

    >>> probability("0.3")
    0.3
    >>> probability("1.5")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: '1.5' is not a number between 0 and 1
    """
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number between 0 and 1")
    return value


def names_of(choices):
    """A type for a comma-separated list drawn from ``choices`` (kept in the order given).

    >>> names_of(("er", "ba"))("ba,er")
    ['ba', 'er']
    >>> names_of(("er", "ba"))("er,smallworld")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: unknown 'smallworld'; choose from er, ba
    """
    choices = tuple(choices)

    def parse(text: str) -> list[str]:
        names = [x.strip() for x in text.split(",") if x.strip()]
        unknown = [x for x in names if x not in choices]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"unknown {', '.join(map(repr, unknown)) or 'empty list'}; "
                                             f"choose from {', '.join(choices)}")
        return names
    return parse


def duration(text: str) -> str:
    """A duration as ``streams.trace.parse_duration`` reads it ('90s', '30m', '1h', '2d', seconds),
    positive; kept as typed, so the output says what was asked.

    >>> duration("1h")
    '1h'
    >>> duration("an hour")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: 'an hour' is not a duration such as 90s, 30m, 1h, 2d
    """
    from streams.trace import parse_duration

    try:
        ok = parse_duration(text) > 0
    except ValueError:
        ok = False
    if not ok:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 90s, 30m, 1h, 2d")
    return text


def size_list(text: str) -> list[int]:
    """Comma-separated sizes >= 1, ``1e6`` notation allowed, sorted.

    >>> size_list("100000,1e4")
    [10000, 100000]
    >>> size_list("1000,abc")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: 'abc' is not a size (a whole number >= 1 such as 10000 or 1e6)
    """
    sizes = []
    for part in (x.strip() for x in text.split(",")):
        if not part:
            continue
        try:
            value = float(part)
        except ValueError:
            value = 0.0
        if not (value >= 1 and value == int(value)):
            raise argparse.ArgumentTypeError(f"{part!r} is not a size (a whole number >= 1 such as 10000 or 1e6)")
        sizes.append(int(value))
    if not sizes:
        raise argparse.ArgumentTypeError("no size given")
    return sorted(sizes)


def seed_list(text: str) -> list[int]:
    """Comma-separated seeds, each a whole number >= 0.

    >>> seed_list("8,9, 10")
    [8, 9, 10]
    >>> seed_list("8,x")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: 'x' is not a whole number >= 0
    """
    seeds = [non_negative_int(x.strip()) for x in text.split(",") if x.strip()]
    if not seeds:
        raise argparse.ArgumentTypeError("no seed given")
    return seeds


def counts_of(choices):
    """A type for ``name=count,...`` with names from ``choices`` and counts >= 1 (trials per model).

    >>> counts_of(("er", "ws"))("ws=200,er=100")
    {'ws': 200, 'er': 100}
    >>> counts_of(("er", "ws"))("ws=0")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: 'ws=0': want NAME=COUNT with NAME one of er, ws and COUNT a whole number >= 1
    """
    choices = tuple(choices)

    def parse(text: str) -> dict:
        out = {}
        for part in (x.strip() for x in text.split(",") if x.strip()):
            name, _, count = part.partition("=")
            try:
                out[name.strip()] = positive_int(count.strip())
            except argparse.ArgumentTypeError:
                name = None
            if name is None or name.strip() not in choices:
                raise argparse.ArgumentTypeError(f"{part!r}: want NAME=COUNT with NAME one of {', '.join(choices)} "
                                                 f"and COUNT a whole number >= 1")
        if not out:
            raise argparse.ArgumentTypeError("no NAME=COUNT given")
        return out
    return parse


def input_file(text: str) -> str:
    """A file to read that exists (a missing one is refused before the run).

    >>> input_file("/nonexistent/features.npz")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: /nonexistent/features.npz: no such file
    """
    import os

    if not os.path.isfile(text):
        raise argparse.ArgumentTypeError(f"{text}: {'a folder, not a file' if os.path.isdir(text) else 'no such file'}")
    return text


def positive_float(text: str) -> float:
    """A number > 0 (seconds, budgets).

    >>> positive_float("60")
    60.0
    """
    return _number(text, lambda value: value > 0, "> 0")


def non_negative_float(text: str) -> float:
    """A number >= 0 (penalties).

    >>> non_negative_float("0")
    0.0
    >>> non_negative_float("-1e-3")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: '-1e-3' is not a number >= 0
    """
    return _number(text, lambda value: value >= 0, ">= 0")


def _number(text: str, ok, wanted: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")  # fails every ``ok``
    if not ok(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number {wanted}")
    return value


def add_stream_options(ap: argparse.ArgumentParser) -> None:
    """--seed, --broker, --clickhouse and --json of the benchmarks that drive Kafka and
    clickhouse-server (ingest, scale)."""
    ap.add_argument("--seed", type=non_negative_int, default=0, help="seed of the synthetic stream (default 0)")
    ap.add_argument("--broker", default="127.0.0.1:9092", help="Kafka bootstrap server (default 127.0.0.1:9092)")
    ap.add_argument("--clickhouse", default="clickhouse://127.0.0.1:9000",
                    help="clickhouse-server URL; every run writes a fresh database of its own and drops it "
                         "(default clickhouse://127.0.0.1:9000)")
    ap.add_argument("--json", action="store_true", help="print one JSON object per line")


def output_file(text: str) -> str:
    """A file to write the results to whose folder exists: checked before the run, not after
    hours of it.

    >>> output_file("/nonexistent/acc.json")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: folder /nonexistent does not exist (for /nonexistent/acc.json)
    """
    import os

    folder = os.path.dirname(os.path.abspath(text))
    if not os.path.isdir(folder):
        raise argparse.ArgumentTypeError(f"folder {os.path.dirname(text) or folder} does not exist (for {text})")
    if os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text} is a folder; give a file name")
    return text
