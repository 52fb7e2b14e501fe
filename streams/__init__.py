"""rumour-trace's adapters around the pure ``graph`` core: Kafka, ClickHouse, HTTP, files."""
from streams.kernel_cache import drop_stale as _drop_stale

# Before any kernel runs: numba's cache only checks the file that defines a kernel, not the
# graph modules it calls (streams/kernel_cache.py).
_drop_stale()
