# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""The forest's tree walk in C: the one loop of the compiled form that numpy cannot make cheap.

Nodes are packed 16 bytes each (threshold, feature, left child), breadth first per tree, so a
node's right child is ``left + 1`` and both usually share a cache line. A leaf points at itself
with threshold +inf, so the walk needs no branch: ``node = left + (x > threshold)``, repeated
as many times as the tree is deep. ``LANES`` rows walk each tree together, so the CPU overlaps
their (independent) chains of loads instead of waiting on one row's chain at a time, and no
row's path steers a branch predictor.

Semantics are scikit-learn's: features are float32 (the caller rounds), compared as float64
with the float64 thresholds, ``x <= threshold`` going left; each row's tree values summed in
tree order in float64, then divided by the number of trees.
"""

from libc.stdint cimport int32_t

cdef packed struct Node:
    double threshold
    int32_t feature
    int32_t left

# Rows walked in lock step: enough independent loads in flight to hide cache latency, few
# enough that every lane's state stays in registers or L1.
cdef enum:
    LANES = 16


def predict(
    const float[:, ::1] x,
    const Node[::1] nodes,
    const double[::1] value,
    const int32_t[::1] roots,
    const int32_t[::1] depths,
    double[::1] out,
) -> None:
    """Write the forest's prediction for each row of ``x`` into ``out``."""
    cdef Py_ssize_t n = x.shape[0], trees = roots.shape[0]
    cdef Py_ssize_t start, lane, lanes, t, level
    cdef int32_t node[LANES]
    cdef double total[LANES]
    cdef const float* row[LANES]
    cdef const Node* nd
    if out.shape[0] != n or depths.shape[0] != trees:
        raise ValueError("out must have one slot per row, depths one per tree")
    with nogil:
        start = 0
        while start < n:
            lanes = min(<Py_ssize_t>LANES, n - start)
            for lane in range(lanes):
                row[lane] = &x[start + lane, 0]
                total[lane] = 0.0
            for t in range(trees):
                for lane in range(lanes):
                    node[lane] = roots[t]
                for level in range(depths[t]):
                    for lane in range(lanes):
                        nd = &nodes[node[lane]]
                        node[lane] = nd.left + (<double>row[lane][nd.feature] > nd.threshold)
                for lane in range(lanes):
                    total[lane] += value[node[lane]]
            for lane in range(lanes):
                out[start + lane] = total[lane] / trees
            start += lanes
