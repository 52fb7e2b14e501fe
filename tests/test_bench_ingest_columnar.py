"""`rumour bench ingest`'s columnar topic carries exactly the batched topic's events."""
import orjson

from benchmarks import ingest_kit
from benchmarks.bench_ingest import KAFKA_DEFAULT_MAX_MESSAGE, columnar_pairs
from streams.events import Decoder


def test_columnar_pairs_carry_the_same_events_in_fewer_bytes():
    pairs = ingest_kit.stream_messages(5_000, 2000, seed=1, prefix="c", shares_per_rumour=3000)
    cols = columnar_pairs(pairs)
    assert [k for k, _ in cols] == [k for k, _ in pairs]
    d = Decoder()
    a_batch, a_dead = d.decode([v for _, v in pairs], now_ms=1_800_000_000_000)
    c_batch, c_dead = d.decode([v for _, v in cols], now_ms=1_800_000_000_000)
    assert not a_dead and not c_dead and len(c_batch) == 5_000
    assert list(c_batch.rows()) == list(a_batch.rows())
    # 2,000 events per message stay under Kafka's default message size in both forms
    assert max(len(v) for _, v in pairs) < KAFKA_DEFAULT_MAX_MESSAGE
    assert sum(len(v) for _, v in cols) < sum(len(v) for _, v in pairs)
    assert {type(orjson.loads(v)) for _, v in cols} == {dict}


def test_decode_only_times_both_forms_of_the_same_events():
    from benchmarks.proto_pipeline import decode_only

    out = decode_only(3000, 500, 2, runs=1)
    for form in ("array", "columns"):
        assert out[form]["cpu_us_per_event_median"] > 0 and out[form]["wall_us_per_event_median"] > 0
    assert out["columns"]["message_bytes_mean"] < out["array"]["message_bytes_mean"]
