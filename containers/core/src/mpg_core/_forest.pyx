# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""The forest's tree walk in C: the one loop of the compiled form that numpy cannot make cheap.

Nodes are packed 16 bytes each (threshold, feature, left child), breadth first per tree, so a
node's right child is ``left + 1`` and both usually share a cache line. A leaf points at itself
with threshold +inf, so the walk needs no branch: ``node = left + (x > threshold)``, repeated
as many times as the tree is deep. ``LANES`` rows walk each tree together, so the CPU overlaps
their (independent) chains of loads instead of waiting on one row's chain at a time, and no
row's path steers a branch predictor. Rows go in blocks of ``BLOCK``: every row of a block
walks one tree before any walks the next, so that tree's few kB of nodes stay in L1 for the
whole block, where walking all trees for 16 rows at a time streamed the whole forest (~0.5 MB
for 100 trees) through the cache again for every 16 rows (-20% on a 5 MB body; blocks of 64
gained nothing, 1,024 a little less than 256).

Semantics are scikit-learn's: features are float32 for its trees (the caller rounds; the
histogram family compares float64), compared as float64 with the float64 thresholds,
``x <= threshold`` going left; each row's total starts at ``start`` (a boosted model's
baseline, 0 for a forest), adds the tree values in tree order, and is divided by ``divisor``
(the number of trees for a forest, 1 for boosting). A NaN compares false, so it goes left: rows
with missing values take :func:`predict_missing`, which follows each node's own direction.
"""

from cython cimport floating
from libc.math cimport isnan
from libc.stdint cimport int32_t, uint8_t

cdef packed struct Node:
    double threshold
    int32_t feature
    int32_t left

# Rows walked in lock step: enough independent loads in flight to hide cache latency, few
# enough that every lane's state stays in registers or L1. Rows that walk one tree before the
# next: their running totals (2 kB) and features stay in L1 beside the tree.
cdef enum:
    LANES = 16
    BLOCK = 256


def predict(
    const floating[:, ::1] x,
    const Node[::1] nodes,
    const double[::1] value,
    const int32_t[::1] roots,
    const int32_t[::1] depths,
    double[::1] out,
    double start,
    double divisor,
) -> bool:
    """One output per row (a regressor, a binary boosted model): write each row's total for
    ``x`` into ``out`` and return True; or return False, writing nothing, when ``x`` holds a
    NaN (those rows take :func:`predict_missing`)."""
    cdef Py_ssize_t n = x.shape[0], trees = roots.shape[0], width = x.shape[1]
    cdef Py_ssize_t block, end, first, lane, lanes, t, level, i, j
    cdef bint nan = False
    cdef int32_t root, depth
    cdef int32_t node[LANES]
    cdef double total[BLOCK]
    cdef const floating* row[LANES]
    cdef const Node* nd
    if out.shape[0] != n or depths.shape[0] != trees:
        raise ValueError("out must have one slot per row, depths one per tree")
    with nogil:
        for i in range(n):
            for j in range(width):
                nan = nan | (x[i, j] != x[i, j])
    if nan:
        return False
    with nogil:
        block = 0
        while block < n:
            end = min(block + <Py_ssize_t>BLOCK, n)
            for i in range(end - block):
                total[i] = start
            for t in range(trees):  # tree order: each row's sum adds up as scikit-learn's
                root = roots[t]
                depth = depths[t]
                first = block
                while first < end:
                    lanes = min(<Py_ssize_t>LANES, end - first)
                    for lane in range(lanes):
                        row[lane] = &x[first + lane, 0]
                        node[lane] = root
                    for level in range(depth):
                        for lane in range(lanes):
                            nd = &nodes[node[lane]]
                            node[lane] = nd.left + (<double>row[lane][nd.feature] > nd.threshold)
                    for lane in range(lanes):
                        total[first - block + lane] += value[node[lane]]
                    first += lanes
            for i in range(end - block):
                out[block + i] = total[i] / divisor
            block = end
    return True


def predict_columns(
    const floating[:, ::1] x,
    const Node[::1] nodes,
    const double[:, ::1] value,
    const int32_t[::1] roots,
    const int32_t[::1] depths,
    const int32_t[::1] column,
    double[:, ::1] out,
    double divisor,
) -> None:
    """Several outputs per row: tree ``t`` adds its leaf's ``value`` row (width W) to the
    row's outputs ``column[t] .. column[t] + W``: a multiclass boosted model (W = 1, one tree
    per class and iteration) or a forest of classifiers (W = classes, column 0). ``out`` holds
    each row's start (the baseline) on entry and is divided by ``divisor`` at the end."""
    cdef Py_ssize_t n = x.shape[0], trees = roots.shape[0], width = value.shape[1]
    cdef Py_ssize_t k_out = out.shape[1]
    cdef Py_ssize_t block, end, first, lane, lanes, t, level, i, k
    cdef int32_t root, depth, col
    cdef int32_t node[LANES]
    cdef const floating* row[LANES]
    cdef const Node* nd
    if out.shape[0] != n or depths.shape[0] != trees or column.shape[0] != trees:
        raise ValueError("out must have one row per row, depths and column one per tree")
    for t in range(trees):
        if column[t] < 0 or column[t] + width > k_out:
            raise ValueError("a tree's output columns fall outside out")
    with nogil:
        block = 0
        while block < n:
            end = min(block + <Py_ssize_t>BLOCK, n)
            for t in range(trees):
                root = roots[t]
                depth = depths[t]
                col = column[t]
                first = block
                while first < end:
                    lanes = min(<Py_ssize_t>LANES, end - first)
                    for lane in range(lanes):
                        row[lane] = &x[first + lane, 0]
                        node[lane] = root
                    for level in range(depth):
                        for lane in range(lanes):
                            nd = &nodes[node[lane]]
                            node[lane] = nd.left + (<double>row[lane][nd.feature] > nd.threshold)
                    for lane in range(lanes):
                        for k in range(width):
                            out[first + lane, col + k] += value[node[lane], k]
                    first += lanes
            if divisor != 1.0:
                for i in range(block, end):
                    for k in range(k_out):
                        out[i, k] = out[i, k] / divisor
            block = end


def predict_missing(
    const double[:, ::1] x,
    const Node[::1] nodes,
    const uint8_t[::1] nan_left,
    const double[:, ::1] value,
    const int32_t[::1] roots,
    const int32_t[::1] column,
    double[:, ::1] out,
    double divisor,
) -> None:
    """:func:`predict_columns` for rows with missing values (NaN), row by row: a NaN goes to
    the left child where ``nan_left`` says so, else right, as each scikit-learn tree records."""
    cdef Py_ssize_t n = x.shape[0], trees = roots.shape[0], width = value.shape[1]
    cdef Py_ssize_t k_out = out.shape[1], size = nodes.shape[0]
    cdef Py_ssize_t i, t, k
    cdef int32_t node, col
    cdef double v
    cdef const Node* nd
    if out.shape[0] != n or column.shape[0] != trees or nan_left.shape[0] != size:
        raise ValueError("out must have one row per row, column one per tree, nan_left per node")
    for t in range(trees):
        if column[t] < 0 or column[t] + width > k_out:
            raise ValueError("a tree's output columns fall outside out")
    with nogil:
        for i in range(n):
            for t in range(trees):
                node = roots[t]
                nd = &nodes[node]
                while nd.left != node:  # a leaf points at itself
                    v = x[i, nd.feature]
                    if isnan(v):
                        node = nd.left + (nan_left[node] == 0)
                    else:
                        node = nd.left + (v > nd.threshold)
                    nd = &nodes[node]
                col = column[t]
                for k in range(width):
                    out[i, col + k] += value[node, k]
            if divisor != 1.0:
                for k in range(k_out):
                    out[i, k] = out[i, k] / divisor
