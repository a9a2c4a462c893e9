# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""A reader for CSV bodies of a table's rows in C: numbers, text levels and missing cells.

Each line has ``n_cells`` cells; each cell goes to one output column or is skipped (a table's
own header may order the columns any way and hold extra ones: the id, the target). A number
cell is read when, spaces around it dropped, it is a short plain decimal that Python's
``float()`` reads the same way (see :mod:`mpg_core._decimal_csv`: at most 15 significant digits
and a power of ten within 1e-22..1e22, exact by Clinger's fast path); a text cell, spaces
around it dropped, is looked up in its column's table of known values (a level's code, or a
missing value's NaN), and any other value gets the column's ``unseen`` code. Number columns
have a table too: their missing-value spellings (empty cell, ``?``, ``nan``, ...), NaN.

Anything else (a quote, a line with another number of cells, a number cell that is neither,
a byte beyond ASCII at a text cell's edge, where Python's ``strip`` might drop more) makes the
whole body ``False``: the caller then reads it cell by cell in Python, which gives the same
answer or the error that names the cell. So this only changes how fast a body is read.
"""

from libc.stdint cimport int64_t, uint64_t
from libc.string cimport memcmp

import numpy as np

cdef enum:
    MAX_DIGITS = 15
    MAX_POWER = 22

cdef double POWERS[23]
POWERS[:] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
]


cdef inline bint is_digit(unsigned char c) noexcept nogil:
    return 48 <= c <= 57


cdef inline bint is_space(unsigned char c) noexcept nogil:
    return c == 32 or c == 9 or c == 13 or c == 11 or c == 12


cdef bint read_number(const unsigned char* s, Py_ssize_t i, Py_ssize_t n, double* value) noexcept nogil:
    """The short plain decimal that is exactly ``s[i:n]``, or False."""
    cdef bint negative = False, exp_negative = False, seen = False
    cdef uint64_t digits = 0
    cdef int significant = 0, fraction = 0, exponent = 0, power
    cdef double result
    if i < n and (s[i] == 43 or s[i] == 45):
        negative = s[i] == 45
        i += 1
    while i < n and is_digit(s[i]):
        seen = True
        if digits or s[i] != 48:
            significant += 1
            digits = digits * 10 + (s[i] - 48)
        i += 1
    if i < n and s[i] == 46:
        i += 1
        while i < n and is_digit(s[i]):
            seen = True
            if digits or s[i] != 48:
                significant += 1
                digits = digits * 10 + (s[i] - 48)
            fraction += 1
            i += 1
    if not seen or significant > MAX_DIGITS:
        return False
    if i < n and (s[i] == 101 or s[i] == 69):
        i += 1
        if i < n and (s[i] == 43 or s[i] == 45):
            exp_negative = s[i] == 45
            i += 1
        if i >= n or not is_digit(s[i]):
            return False
        while i < n and is_digit(s[i]):
            if exponent < 10000:
                exponent = exponent * 10 + (s[i] - 48)
            i += 1
        if exp_negative:
            exponent = -exponent
    if i != n:
        return False
    power = exponent - fraction
    result = <double>digits
    if digits == 0:
        pass
    elif 0 <= power <= MAX_POWER:
        result = result * POWERS[power]
    elif -MAX_POWER <= power < 0:
        result = result / POWERS[-power]
    else:
        return False
    value[0] = -result if negative else result
    return True


cdef inline uint64_t fnv1a(const unsigned char* s, Py_ssize_t n) noexcept nogil:
    cdef uint64_t h = 14695981039346656037ULL
    cdef Py_ssize_t k
    for k in range(n):
        h = (h ^ s[k]) * 1099511628211ULL
    return h


def hash_key(bytes key) -> int:
    """The hash the reader gives ``key`` (the tables are built with it)."""
    return fnv1a(<const unsigned char*>key, len(key))


cdef class TableCsv:
    """The layout of one body's lines and the tables its cells are looked up in.

    ``targets``: per cell of a line, its output column or -1 (skipped). ``tables``: per cell,
    the index of its lookup table in ``keys`` (-1: skipped). ``numbers``: per cell, whether
    it holds a number (a table miss is then a number to parse, else the ``unseen`` code).
    ``keys``: per table, a dict of byte strings to codes (NaN for missing spellings)."""

    cdef Py_ssize_t n_cells
    cdef int[::1] target
    cdef int[::1] table
    cdef unsigned char[::1] number
    cdef double[::1] unseen
    cdef const unsigned char[::1] blob
    cdef int64_t[::1] key_start
    cdef int64_t[::1] key_length
    cdef double[::1] key_code
    cdef int64_t[::1] slots
    cdef int64_t[::1] slot_base
    cdef int64_t[::1] slot_mask

    def __init__(self, targets, tables, numbers, unseen, keys):
        self.n_cells = len(targets)
        self.target = np.ascontiguousarray(targets, dtype=np.intc)
        self.table = np.ascontiguousarray(tables, dtype=np.intc)
        self.number = np.ascontiguousarray(numbers, dtype=np.uint8)
        self.unseen = np.ascontiguousarray(unseen, dtype=np.float64)
        if not (len(self.table) == len(self.number) == len(self.unseen) == self.n_cells):
            raise ValueError("targets, tables, numbers and unseen differ in length")
        starts, lengths, codes, parts = [], [], [], []
        slots, bases, masks = [], [], []
        offset = 0
        for table in keys:
            size = 8
            while size < 2 * len(table) + 2:
                size *= 2
            slot = [-1] * size
            for key, code in table.items():
                index = len(codes)
                starts.append(offset)
                lengths.append(len(key))
                codes.append(float(code))
                parts.append(key)
                offset += len(key)
                h = hash_key(key) & (size - 1)
                while slot[h] != -1:
                    h = (h + 1) & (size - 1)
                slot[h] = index
            bases.append(len(slots))
            masks.append(size - 1)
            slots.extend(slot)
        self.blob = np.frombuffer(b"".join(parts) + b"\0", dtype=np.uint8)
        self.key_start = np.array(starts + [0], dtype=np.int64)
        self.key_length = np.array(lengths + [0], dtype=np.int64)
        self.key_code = np.array(codes + [0.0], dtype=np.float64)
        self.slots = np.array(slots + [-1], dtype=np.int64)
        self.slot_base = np.array(bases + [0], dtype=np.int64)
        self.slot_mask = np.array(masks + [0], dtype=np.int64)
        table_of, target_of = np.asarray(self.table), np.asarray(self.target)
        if ((table_of >= len(keys)) | ((target_of >= 0) & (table_of < 0))).any():
            raise ValueError("a cell's table is not one of the tables")

    cdef inline int64_t find(self, int t, const unsigned char* s, Py_ssize_t n) noexcept nogil:
        cdef const unsigned char* blob = &self.blob[0]
        cdef int64_t mask = self.slot_mask[t], base = self.slot_base[t]
        cdef int64_t h = <int64_t>(fnv1a(s, n) & <uint64_t>mask)
        cdef int64_t k
        while True:
            k = self.slots[base + h]
            if k < 0:
                return -1
            if self.key_length[k] == n and memcmp(blob + self.key_start[k], s, n) == 0:
                return k
            h = (h + 1) & mask

    cdef bint fill(self, const unsigned char* s, Py_ssize_t n, double[:, ::1] out) noexcept nogil:
        cdef Py_ssize_t i = 0, row, cell, start, end, a, b
        cdef Py_ssize_t rows = out.shape[0]
        cdef int column, t
        cdef int64_t k
        cdef double value
        for row in range(rows):
            for cell in range(self.n_cells):
                start = i
                while i < n and s[i] != 44 and s[i] != 10:
                    if s[i] == 34:  # a quote: Python's csv reader
                        return False
                    i += 1
                end = i
                if cell + 1 < self.n_cells:
                    if i >= n or s[i] != 44:
                        return False
                    i += 1
                elif row + 1 < rows:
                    if i >= n or s[i] != 10:
                        return False
                    i += 1
                elif i != n:
                    return False
                column = self.target[cell]
                if column < 0:
                    continue
                a, b = start, end
                while a < b and is_space(s[a]):
                    a += 1
                while b > a and is_space(s[b - 1]):
                    b -= 1
                if a < b and (s[a] >= 128 or s[b - 1] >= 128):
                    return False
                t = self.table[cell]
                k = self.find(t, s + a, b - a)
                if k >= 0:
                    out[row, column] = self.key_code[k]
                elif not self.number[cell]:
                    out[row, column] = self.unseen[cell]
                elif read_number(s, a, b, &value):
                    out[row, column] = value
                else:
                    return False
        return True

    def read(self, const unsigned char[::1] body, double[:, ::1] out) -> bool:
        """Fill ``out`` (rows x columns) from ``body``: ``\\n``-joined lines, no trailing
        line end, each of ``n_cells`` cells. False (``out`` partly written) when any cell or
        line is not one this reader reads (the caller then reads the body in Python)."""
        cdef bint ok
        if body.shape[0] == 0 or out.shape[0] == 0:
            return False
        with nogil:
            ok = self.fill(&body[0], body.shape[0], out)
        return ok
