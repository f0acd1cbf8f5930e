"""Which positions sort, topk and cummax pick, on raw arrays, in torch's order.

gradwork._tensor_scan turns these positions into values with a gather, so the
gradients come free; nothing here is differentiated. Ties are where the work
is: sort is stable, cummax/cummin point at the latest tie, and topk replays
torch's CPU kernel (libstdc++'s nth_element, then sort) on rows with ties.
"""

from __future__ import annotations

import numpy as np

from gradwork._arrays import to_host, xp_of


def running_index(data, running, dim):
    """Where each running max/min came from: the LAST position holding it (torch's ties).

    NOTE: a NaN takes over the running value, and each later NaN moves the index on.
    """
    hit = data == running
    if data.dtype.kind in "fc":
        hit |= np.isnan(data)
    positions = xp_of(data).arange(data.shape[dim]).reshape((-1,) + (1,) * (data.ndim - dim - 1))
    return np.maximum.accumulate(np.where(hit, positions, 0), axis=dim)


def sort_indices(data, dim, descending):
    """Stable argsort along `dim`; NaN counts as the largest value, as in torch."""
    if not descending:
        return np.argsort(data, axis=dim, kind="stable")
    # Sort the reversed array and reverse back: equal values keep their order,
    # which negating (impossible for bool and unsigned) would not give either.
    backwards = np.argsort(np.flip(data, dim), axis=dim, kind="stable")
    return data.shape[dim] - 1 - np.flip(backwards, dim)


def topk_indices(data, k, dim, largest):
    """The positions of the k largest (smallest) along `dim`, in torch's order.

    Without ties any correct order is torch's. With ties, torch's CPU kernel
    returns whatever libstdc++'s partial_sort (small k) or nth_element and sort
    leave in front; rows with ties replay those (see _libstdcxx_topk_order), so
    the indices match torch's: checked against torch 2.13 on rows of 1 to 4096
    with few distinct values and NaNs, k from 1 to n.
    """
    order = sort_indices(data, dim, descending=largest)
    picked = np.take(order, xp_of(order).arange(k), axis=dim)
    ranked = np.moveaxis(np.take_along_axis(data, order, dim), dim, -1)
    same = ranked[..., 1:] == ranked[..., :-1]
    if data.dtype.kind == "f":
        same |= np.isnan(ranked[..., 1:]) & np.isnan(ranked[..., :-1])
    tied = same.any(-1).reshape(-1)
    length = data.shape[dim]
    if not tied.any() or k == 0 or length > 4096:
        return picked  # NOTE: rows longer than 4096 are not replayed (Python speed)
    # The replay is a Python loop: it runs on a host copy (explicit for device arrays).
    rows = to_host(np.moveaxis(data, dim, -1).reshape(-1, length))
    out = to_host(np.moveaxis(picked, dim, -1).reshape(-1, k)).copy()
    for row in np.flatnonzero(to_host(tied)):
        out[row] = _libstdcxx_topk_order(rows[row].tolist(), k, largest)
    out = xp_of(data).asarray(out)
    return np.moveaxis(out.reshape(np.moveaxis(picked, dim, -1).shape), -1, dim)


class _Libstdcxx:
    """libstdc++'s nth_element, sort and partial_sort (GCC's stl_algo.h, stl_heap.h),
    replayed step for step on a list of positions compared by value: among ties,
    where each position ends up is what torch's CPU kernels leave there."""

    THRESHOLD = 16  # std::sort leaves runs this short to a final insertion sort

    def __init__(self, values, largest):
        nan = [v != v for v in values]  # NaN counts as the largest value, as in torch
        if largest:

            def comp(x, y):  # x goes before y
                return (nan[x] and not nan[y]) or values[x] > values[y]
        else:

            def comp(x, y):
                return (not nan[x] and nan[y]) or values[x] < values[y]

        self.comp, self.q = comp, list(range(len(values)))

    # ------------------------------------------------ insertion, partition
    def insertion_sort(self, first, last):
        q, comp = self.q, self.comp
        for i in range(first + 1, last):
            if comp(q[i], q[first]):
                q[first : i + 1] = [q[i], *q[first:i]]
            else:
                self.linear_insert(i)

    def linear_insert(self, last):
        q, value = self.q, self.q[last]
        while self.comp(value, q[last - 1]):
            q[last] = q[last - 1]
            last -= 1
        q[last] = value

    def median_to_first(self, result, a, b, c):
        q, comp = self.q, self.comp
        if comp(q[a], q[b]):
            pick = b if comp(q[b], q[c]) else c if comp(q[a], q[c]) else a
        else:
            pick = a if comp(q[a], q[c]) else c if comp(q[b], q[c]) else b
        q[result], q[pick] = q[pick], q[result]

    def partition_pivot(self, first, last):
        q, comp = self.q, self.comp
        self.median_to_first(first, first + 1, first + (last - first) // 2, last - 1)
        pivot, first = first, first + 1
        while True:
            while comp(q[first], q[pivot]):
                first += 1
            last -= 1
            while comp(q[pivot], q[last]):
                last -= 1
            if not first < last:
                return first
            q[first], q[last] = q[last], q[first]
            first += 1

    # ------------------------------------------------------------- heaps
    def adjust_heap(self, first, hole, length, value):
        q, comp, top, child = self.q, self.comp, hole, hole
        while child < (length - 1) // 2:
            child = 2 * (child + 1)
            if comp(q[first + child], q[first + child - 1]):
                child -= 1
            q[first + hole], hole = q[first + child], child
        if length % 2 == 0 and child == (length - 2) // 2:
            child = 2 * (child + 1)
            q[first + hole], hole = q[first + child - 1], child - 1
        parent = (hole - 1) // 2
        while hole > top and comp(q[first + parent], value):
            q[first + hole], hole = q[first + parent], parent
            parent = (hole - 1) // 2
        q[first + hole] = value

    def pop_heap(self, first, last, result):
        value, self.q[result] = self.q[result], self.q[first]
        self.adjust_heap(first, 0, last - first, value)

    def partial_sort(self, first, middle, last):
        self.partial_sort_select(first, middle, last)  # libstdc++: heap select, then sort_heap
        while middle - first > 1:
            middle -= 1
            self.pop_heap(first, middle, middle)

    # --------------------------------------------------- the algorithms
    def nth_element(self, nth):
        first, last = 0, len(self.q)
        depth = 2 * (last.bit_length() - 1) if last else 0
        while last - first > 3:
            if depth == 0:  # libstdc++'s heap select, then the nth into place
                self.partial_sort_select(first, nth + 1, last)
                self.q[first], self.q[nth] = self.q[nth], self.q[first]
                return
            depth -= 1
            cut = self.partition_pivot(first, last)
            first, last = (cut, last) if cut <= nth else (first, cut)
        self.insertion_sort(first, last)

    def partial_sort_select(self, first, middle, last):
        """__heap_select alone: make_heap, then sift in what beats the top."""
        length = middle - first
        for parent in range((length - 2) // 2, -1, -1) if length >= 2 else ():
            self.adjust_heap(first, parent, length, self.q[first + parent])
        for i in range(middle, last):
            if self.comp(self.q[i], self.q[first]):
                self.pop_heap(first, middle, i)

    def sort(self, first, last):
        if last - first < 2:
            return
        self.introsort_loop(first, last, 2 * ((last - first).bit_length() - 1))
        if last - first > self.THRESHOLD:
            self.insertion_sort(first, first + self.THRESHOLD)
            for i in range(first + self.THRESHOLD, last):
                self.linear_insert(i)
        else:
            self.insertion_sort(first, last)

    def introsort_loop(self, first, last, depth):
        while last - first > self.THRESHOLD:
            if depth == 0:
                self.partial_sort(first, last, last)
                return
            depth -= 1
            cut = self.partition_pivot(first, last)
            self.introsort_loop(cut, last, depth)
            last = cut


def _libstdcxx_topk_order(values, k, largest):
    """torch's CPU topk of one row (aten/src/ATen/native/cpu/SortingKernel.cpp): a
    partial_sort when k * 64 <= n, else nth_element(k - 1) then sort of the first k - 1."""
    replay = _Libstdcxx(values, largest)
    if k * 64 <= len(values):
        replay.partial_sort(0, k, len(values))
    else:
        replay.nth_element(k - 1)
        replay.sort(0, k - 1)
    return replay.q[:k]
