"""Benchmarks of rumour-trace: accuracy, speed and memory, each runnable with one command."""
import streams  # noqa: F401  (on import it drops numba caches whose callees changed)
