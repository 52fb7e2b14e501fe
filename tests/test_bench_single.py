"""The single-event bench's helpers: ratios of alternated runs and the bench worker's Faust options."""
from benchmarks.bench_ingest import pair_ratios, ratio_of_medians
from benchmarks.ingest_worker import faust_options


def test_ratios_pair_runs_in_order_and_skip_missing_figures():
    runs = {"ours_single": [{"eps": 300, "events_per_cpu_s": 9000}, {"eps": None, "events_per_cpu_s": 8000},
                            {"eps": 100, "events_per_cpu_s": 7000}],
            "noop_single": [{"eps": 200, "events_per_cpu_s": 4000}, {"eps": 100, "events_per_cpu_s": 5000},
                            {"eps": 400, "events_per_cpu_s": 6000}]}
    assert pair_ratios(runs, "single", "eps") == [1.5, None, 0.25]
    assert ratio_of_medians(runs, "single", "events_per_cpu_s") == round(8000 / 5000, 3)
    assert ratio_of_medians(runs, "batched", "eps") is None


def test_faust_options_parse_numbers_and_name_the_monitors():
    from faust.sensors import Monitor

    from streams.faust_path import QuietMonitor

    got = faust_options(["stream_buffer_maxsize=16384", "broker_commit_interval=1.5",
                         "Monitor=quiet", "web_host=x"])
    assert got == {"stream_buffer_maxsize": 16384, "broker_commit_interval": 1.5,
                   "Monitor": QuietMonitor, "web_host": "x"}
    assert faust_options(["Monitor=faust"]) == {"Monitor": Monitor} and faust_options(None) == {}
