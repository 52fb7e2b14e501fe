"""Pure graph core: the live propagation graph of one rumour (numpy arrays + numba kernels).

>>> import numpy as np
>>> from graph import CascadeGraph, ADDED
>>> g = CascadeGraph("r1")
>>> int(g.add_batch(["e1"], ["u1"], np.array([0]), [None], [None]).status[0]) == ADDED
True
"""
from graph.cascade import CascadeGraph
from graph.types import ADDED, DUPLICATE, REJECTED, AddResult, Cutoff, Hop, Origin

__all__ = ["CascadeGraph", "ADDED", "DUPLICATE", "REJECTED", "AddResult", "Origin", "Hop", "Cutoff"]
