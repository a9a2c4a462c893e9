# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""The forest's tree walk in C: the one loop of the compiled form that numpy cannot make cheap.

Nodes are packed records, breadth first per tree, so a node's right child directly follows its
left one and both usually share a cache line; a leaf has threshold +inf and leads back to
itself, so the walk needs no branch per node: ``node = left + (x > threshold)``. ``LANES``
rows walk each tree together, so the CPU overlaps their (independent) chains of loads instead
of waiting on one row's chain at a time, and no row's path steers a branch predictor. Rows go
in blocks of ``BLOCK``: every row of a block walks one tree before any walks the next, so that
tree's nodes stay in L1 for the whole block (blocks of 64 gained nothing, 1,024 a little less
than 256).

Two node records (:func:`mpg_core.artifact.compiled.pack_nodes` chooses and packs them):

* ``Node32``, 8 bytes, for deep trees on float32 features (every family but the histogram
  one) of under 65,536 nodes each: the left child as a 16-bit ``offset`` from the node (0 at a
  leaf), the threshold rounded *down* to float32, which keeps the comparison exact (for a
  float32 ``x``, ``x <= t`` exactly when ``x <= down32(t)``). Half the bytes keep a 2,047-node
  tree inside a 32 kB L1 cache, and the lanes stop at the first level where none of them moved:
  trees grown best first (``max_leaf_nodes``) are lopsided, ~25 levels deep where 16 rows'
  deepest leaf is ~17. Together +40% rows/s on the size rule's 1,024-leaf forests, unchanged on
  Auto MPG's (checking every level beat checking every 2, 3 or 4 levels).
* ``Node64``, 16 bytes, for the rest: a float64 threshold and the left child's index, walked
  to each tree's depth. Shallow trees (gradient boosting's 3 levels) walk 5% faster this way:
  every lane reaches its leaf at about the same level, so a stop check only costs.

Compiled with ``-O2 -funroll-loops`` (containers/core/pyproject.toml): against ``-O3`` 3-15%
less per row on one-output models; at ``-O3`` gcc unrolled the lanes into a chain of branches.

Semantics are scikit-learn's: features are float32 for its trees (the caller rounds; the
histogram family compares float64), ``x <= threshold`` going left; each row's total starts at
``start`` (a boosted model's baseline, 0 for a forest), adds the tree values in tree order, and
is divided by ``divisor`` (the number of trees for a forest, 1 for boosting). A NaN compares
false, so it goes left: rows with missing values take :func:`predict_missing`, which follows
each node's own direction.
"""

from cython cimport floating
from libc.math cimport isnan
from libc.stdint cimport int32_t, uint8_t, uint16_t

cdef packed struct Node32:
    float threshold
    uint16_t feature
    uint16_t offset

cdef packed struct Node64:
    double threshold
    int32_t feature
    int32_t left

ctypedef fused Node:
    Node32
    Node64

# Rows walked in lock step: enough independent loads in flight to hide cache latency, few
# enough that every lane's state stays in registers or L1. Rows that walk one tree before the
# next: their running totals (2 kB) and features stay in L1 beside the tree.
cdef enum:
    LANES = 16
    BLOCK = 256


cdef void _sum_one(
    const floating* x, Py_ssize_t n, Py_ssize_t width, const Node* nodes, const double* value,
    const int32_t* roots, const int32_t* depths, Py_ssize_t trees, double* out, double start,
    double divisor,
) noexcept nogil:
    cdef Py_ssize_t block, end, first, lane, lanes, t, i, level
    cdef int32_t node[LANES]
    cdef int32_t step, moved
    cdef const Node* nd
    cdef double total[BLOCK]
    cdef const floating* row[LANES]
    block = 0
    while block < n:
        end = min(block + <Py_ssize_t>BLOCK, n)
        for i in range(end - block):
            total[i] = start
        for t in range(trees):  # tree order: each row's sum adds up as scikit-learn's
            first = block
            while first < end:
                lanes = min(<Py_ssize_t>LANES, end - first)
                for lane in range(lanes):
                    row[lane] = x + (first + lane) * width
                    node[lane] = roots[t]
                # The walk, written out in both loops: as an inline function gcc kept the lanes'
                # state in memory (-15% rows/s).
                if Node is Node32:
                    for level in range(depths[t]):
                        moved = 0
                        for lane in range(lanes):
                            nd = &nodes[node[lane]]
                            step = nd.offset + (row[lane][nd.feature] > nd.threshold)
                            moved = moved | step
                            node[lane] = node[lane] + step
                        if moved == 0:  # every lane sits on its leaf
                            break
                else:
                    for level in range(depths[t]):
                        for lane in range(lanes):
                            nd = &nodes[node[lane]]
                            node[lane] = nd.left + (row[lane][nd.feature] > nd.threshold)
                for lane in range(lanes):
                    total[first - block + lane] += value[node[lane]]
                first += lanes
        for i in range(end - block):
            out[block + i] = total[i] / divisor
        block = end


cdef void _sum_columns(
    const floating* x, Py_ssize_t n, Py_ssize_t width, const Node* nodes, const double* value,
    Py_ssize_t value_width, const int32_t* roots, const int32_t* depths, const int32_t* column,
    Py_ssize_t trees, double* out, Py_ssize_t k_out, double divisor,
) noexcept nogil:
    cdef Py_ssize_t block, end, first, lane, lanes, t, i, k, level
    cdef int32_t node[LANES]
    cdef int32_t step, moved
    cdef const Node* nd
    cdef const floating* row[LANES]
    cdef double* target
    block = 0
    while block < n:
        end = min(block + <Py_ssize_t>BLOCK, n)
        for t in range(trees):
            first = block
            while first < end:
                lanes = min(<Py_ssize_t>LANES, end - first)
                for lane in range(lanes):
                    row[lane] = x + (first + lane) * width
                    node[lane] = roots[t]
                if Node is Node32:  # the walk, as in _sum_one
                    for level in range(depths[t]):
                        moved = 0
                        for lane in range(lanes):
                            nd = &nodes[node[lane]]
                            step = nd.offset + (row[lane][nd.feature] > nd.threshold)
                            moved = moved | step
                            node[lane] = node[lane] + step
                        if moved == 0:
                            break
                else:
                    for level in range(depths[t]):
                        for lane in range(lanes):
                            nd = &nodes[node[lane]]
                            node[lane] = nd.left + (row[lane][nd.feature] > nd.threshold)
                for lane in range(lanes):
                    target = out + (first + lane) * k_out + column[t]
                    for k in range(value_width):
                        target[k] += value[node[lane] * value_width + k]
                first += lanes
        if divisor != 1.0:
            for i in range(block * k_out, end * k_out):
                out[i] = out[i] / divisor
        block = end


cdef void _sum_missing(
    const floating* x, Py_ssize_t n, Py_ssize_t width, const Node* nodes,
    const uint8_t* nan_left, const double* value, Py_ssize_t value_width, const int32_t* roots,
    const int32_t* column, Py_ssize_t trees, double* out, Py_ssize_t k_out, double divisor,
) noexcept nogil:
    cdef Py_ssize_t i, t, k
    cdef int32_t node, child
    cdef double v
    cdef const Node* nd
    cdef double* target
    for i in range(n):
        for t in range(trees):
            node = roots[t]
            nd = &nodes[node]
            while True:
                if Node is Node32:
                    if nd.offset == 0:  # a leaf
                        break
                    child = node + nd.offset
                else:
                    if nd.left == node:  # a leaf points at itself
                        break
                    child = nd.left
                v = x[i * width + nd.feature]
                node = child + ((nan_left[node] == 0) if isnan(v) else (v > nd.threshold))
                nd = &nodes[node]
            target = out + i * k_out + column[t]
            for k in range(value_width):
                target[k] += value[node * value_width + k]
        if divisor != 1.0:
            for k in range(i * k_out, (i + 1) * k_out):
                out[k] = out[k] / divisor


cdef int _check_nodes(Py_ssize_t size, int node_bytes, bint float32) except -1:
    """``size`` bytes of ``node_bytes`` records, usable with these features."""
    if node_bytes not in (sizeof(Node32), sizeof(Node64)) or size % node_bytes or size == 0:
        raise ValueError("nodes must be whole Node32 (8-byte) or Node64 (16-byte) records")
    if node_bytes == sizeof(Node32) and not float32:
        raise ValueError("Node32's float32 thresholds are exact for float32 features only")
    return 0


def predict(
    const floating[:, ::1] x,
    const uint8_t[::1] nodes,
    int node_bytes,
    const double[::1] value,
    const int32_t[::1] roots,
    const int32_t[::1] depths,
    double[::1] out,
    double start,
    double divisor,
) -> bool:
    """One output per row (a regressor, a binary boosted model): write each row's total for
    ``x`` into ``out`` and return True; or return False, writing nothing, when ``x`` holds a
    NaN (those rows take :func:`predict_missing`). ``nodes``: the packed records' bytes,
    ``node_bytes`` long each."""
    cdef Py_ssize_t n = x.shape[0], trees = roots.shape[0], width = x.shape[1], i, j
    cdef bint nan = False
    if out.shape[0] != n or depths.shape[0] != trees:
        raise ValueError("out must have one slot per row, depths one per tree")
    _check_nodes(nodes.shape[0], node_bytes, floating is float)
    if n == 0:
        return True
    with nogil:
        for i in range(n):
            for j in range(width):
                nan = nan | (x[i, j] != x[i, j])
    if nan:
        return False
    with nogil:
        if node_bytes == sizeof(Node32):
            _sum_one(&x[0, 0], n, width, <const Node32*>&nodes[0], &value[0], &roots[0],
                     &depths[0], trees, &out[0], start, divisor)
        else:
            _sum_one(&x[0, 0], n, width, <const Node64*>&nodes[0], &value[0], &roots[0],
                     &depths[0], trees, &out[0], start, divisor)
    return True


def predict_columns(
    const floating[:, ::1] x,
    const uint8_t[::1] nodes,
    int node_bytes,
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
    each row's start (the baseline) on entry and is divided by ``divisor`` at the end. ``x``
    must hold no NaN (see :func:`predict_missing`)."""
    cdef Py_ssize_t n = x.shape[0], trees = roots.shape[0], t
    if out.shape[0] != n or depths.shape[0] != trees or column.shape[0] != trees:
        raise ValueError("out must have one row per row, depths and column one per tree")
    for t in range(trees):
        if column[t] < 0 or column[t] + value.shape[1] > out.shape[1]:
            raise ValueError("a tree's output columns fall outside out")
    _check_nodes(nodes.shape[0], node_bytes, floating is float)
    if n == 0:
        return
    with nogil:
        if node_bytes == sizeof(Node32):
            _sum_columns(&x[0, 0], n, x.shape[1], <const Node32*>&nodes[0], &value[0, 0],
                         value.shape[1], &roots[0], &depths[0], &column[0], trees, &out[0, 0],
                         out.shape[1], divisor)
        else:
            _sum_columns(&x[0, 0], n, x.shape[1], <const Node64*>&nodes[0], &value[0, 0],
                         value.shape[1], &roots[0], &depths[0], &column[0], trees, &out[0, 0],
                         out.shape[1], divisor)


def predict_missing(
    const floating[:, ::1] x,
    const uint8_t[::1] nodes,
    int node_bytes,
    const uint8_t[::1] nan_left,
    const double[:, ::1] value,
    const int32_t[::1] roots,
    const int32_t[::1] column,
    double[:, ::1] out,
    double divisor,
) -> None:
    """:func:`predict_columns` for rows with missing values (NaN), row by row: a NaN goes to
    the left child where ``nan_left`` says so, else right, as each scikit-learn tree records."""
    cdef Py_ssize_t n = x.shape[0], trees = roots.shape[0], t
    _check_nodes(nodes.shape[0], node_bytes, floating is float)
    if out.shape[0] != n or column.shape[0] != trees or (
        nan_left.shape[0] * node_bytes != nodes.shape[0]
    ):
        raise ValueError("out must have one row per row, column one per tree, nan_left per node")
    for t in range(trees):
        if column[t] < 0 or column[t] + value.shape[1] > out.shape[1]:
            raise ValueError("a tree's output columns fall outside out")
    if n == 0:
        return
    with nogil:
        if node_bytes == sizeof(Node32):
            _sum_missing(&x[0, 0], n, x.shape[1], <const Node32*>&nodes[0], &nan_left[0],
                         &value[0, 0], value.shape[1], &roots[0], &column[0], trees,
                         &out[0, 0], out.shape[1], divisor)
        else:
            _sum_missing(&x[0, 0], n, x.shape[1], <const Node64*>&nodes[0], &nan_left[0],
                         &value[0, 0], value.shape[1], &roots[0], &column[0], trees,
                         &out[0, 0], out.shape[1], divisor)
