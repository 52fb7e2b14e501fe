"""Benchmarks of rumour-trace: accuracy, speed and memory, each runnable with one command."""
import importlib

# Imported for what its import does: streams drops the numba caches whose callees changed
# (streams/kernel_cache.py), before any benchmark runs a kernel.
importlib.import_module("streams")
