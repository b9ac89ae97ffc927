"""Exact range search: every pair of records within a radius of each other.

The brute-force, blocked float32 matrix-product search (decided in float64) that the privacy
guard (:mod:`clinisynth.guard`) runs on its encoded training records.
"""

from __future__ import annotations

import numpy as np

from clinisynth.threads import blas_limits, current_threads

#: query rows x training rows of one block of :func:`pairs_within` (``benchmarks/
#: guard_search_methods.py``; a reference of a million rows is searched in ten slices)
QUERY_BLOCK, REFERENCE_BLOCK = 128, 100_000


def search_matrix(reference: np.ndarray, radii: np.ndarray | None = None) -> np.ndarray:
    """The reference as :func:`pairs_within` multiplies it: float32, transposed, with a last
    row ``(R_j^2 - |r_j|^2) / 2`` (``R_j``: per-reference radii, 0 without them; build it once
    for a reference searched many times)."""
    ref_t = np.empty((reference.shape[1] + 1, len(reference)), dtype=np.float32)
    ref_t[:-1] = reference.T
    last = -np.einsum("ij,ij->i", reference, reference) / 2
    ref_t[-1] = last if radii is None else last + np.square(radii) / 2
    return ref_t


def pairs_within(query: np.ndarray, reference: np.ndarray, radius: float | np.ndarray,
                 matrix: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair ``(i, j)`` with ``||q_i - r_j|| < radius`` or ``= 0``: ``(i, j, distance)``.
    ``radius`` is one number or one per reference row (``R_j``, carried in the matrix's last
    row: ``q.r - |r|^2/2 + R^2/2 > (|q|^2 - margin) / 2``, the same test with the margin also
    covering ``1e-4 max R^2``).

    Exact range search by blocks: a float32 matrix product gives ``q.r - |r|^2 / 2`` (the
    reference carries ``-|r|^2 / 2`` as an extra column, the query a 1), and a pair is a
    candidate when it exceeds ``(|q|^2 - L) / 2``, i.e. ``||q - r||^2 < L`` with ``L = radius^2
    + 1e-4 (|q|^2 + max |r|^2) + 1e-6``: a margin far above float32's rounding, so every pair
    inside the radius is a candidate. Candidates' distances are then computed in float64 and
    the radius applied to them. The product uses the BLAS threads of
    :func:`clinisynth.threads.current_threads`; the float64 step decides, so the result does
    not depend on them. Brute force, as any exact search must be here: at 30-50 encoded
    dimensions trees prune nothing (``benchmarks/guard_search_methods.py``). ``matrix``:
    :func:`search_matrix` of ``reference``, when it is already built.
    """
    per_row = np.ndim(radius) > 0
    if matrix is not None:
        ref_t = matrix
    else:
        ref_t = search_matrix(reference, np.asarray(radius) if per_row else None)
    q_sq = np.einsum("ij,ij->i", query, query)
    r_sq = float(np.max(np.square(radius), initial=0.0))
    # |r_j|^2 = R_j^2 - 2 * last_j <= max R^2 - 2 min(last): read off the matrix, not recomputed
    max_r_sq = (r_sq if per_row else 0.0) - 2.0 * float(ref_t[-1].min(initial=0.0))
    limit = (0.0 if per_row else r_sq) + 1e-4 * (q_sq + max_r_sq + r_sq) + 1e-6
    bound = ((q_sq - limit) / 2).astype(np.float32)
    found_i, found_j = [], []
    with blas_limits(current_threads()):
        for start in range(0, len(query), QUERY_BLOCK):
            block = np.ones((min(QUERY_BLOCK, len(query) - start), len(ref_t)), dtype=np.float32)
            block[:, :-1] = query[start:start + QUERY_BLOCK]
            limit_q = bound[start:start + QUERY_BLOCK, None]
            for first in range(0, len(reference), REFERENCE_BLOCK):
                near = block @ ref_t[:, first:first + REFERENCE_BLOCK] > limit_q
                flat = np.flatnonzero(near)  # one pass; 2-D np.nonzero is ~20x slower
                if len(flat):
                    i, j = np.divmod(flat, near.shape[1])
                    found_i.append(i + start)
                    found_j.append(j + first)
    rows = np.concatenate(found_i) if found_i else np.zeros(0, dtype=np.int64)
    train = np.concatenate(found_j) if found_j else np.zeros(0, dtype=np.int64)
    gap = query[rows] - reference[train]
    dist = np.sqrt(np.einsum("ij,ij->i", gap, gap))
    allowed = np.asarray(radius)[train] if per_row else radius
    keep = (dist < allowed) | (dist <= 1e-12)
    return rows[keep].astype(np.int64), train[keep].astype(np.int64), dist[keep]
