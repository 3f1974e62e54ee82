"""lsio on dask: lazy dask arrays read through lsio, and statistics spread over a
dask.distributed cluster.

``lsio.dask.stats`` splits the work along a dimension that is reduced (at chunk boundaries),
runs lsio's C++ engine on each share in a dask task, and merges the shares' partial
accumulators (in order) on the client: the same statistics as ``lsio.stats``, up to
floating-point rounding order.
"""

from __future__ import annotations

import importlib
import os
from typing import Any, Iterable, Mapping

import numpy as np

from . import _api, _lsio
from ._selection import selectors
from ._stats import _as_list, _stats_text, parse_size, report_to_dataset
from .errors import InvalidArgumentError

__all__ = ["to_dask", "stats"]


def _import(module: str):
    """dask and distributed are optional: they come with ``pip install 'lsio[dask]'``."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(f"{module} is not installed: lsio's dask functions need it "
                          "(pip install 'lsio[dask]')") from e


class _LazyArray:
    """Picklable: reopens the store on first use in each process."""

    def __init__(self, path: str, var: str, shape, dtype):
        self.path, self.var = path, var
        self.shape, self.dtype, self.ndim = tuple(shape), np.dtype(dtype), len(shape)
        self._array = None

    def __getstate__(self):
        return {"path": self.path, "var": self.var, "shape": self.shape, "dtype": self.dtype}

    def __setstate__(self, state):
        self.__init__(state["path"], state["var"], state["shape"], state["dtype"])

    def __getitem__(self, key):
        if self._array is None:
            self._array = _api.open(self.path)[self.var] if self.var else _api.open(self.path)
        return self._array[key]


def to_dask(path: str | os.PathLike, var: str = "", chunks: Any = None):
    """A dask array of variable ``var`` (``""`` for a store that is one array), chunked like
    the Zarr chunks (or ``chunks``), whose tasks read through lsio."""
    da = _import("dask.array")
    path = os.fspath(path)
    root = _api.open(path)
    a = root[var] if var else root
    if not isinstance(a, _api.Array):
        raise InvalidArgumentError(f"'{var}' is a group, not an array")
    lazy = _LazyArray(path, var, a.shape, a.dtype)
    return da.from_array(lazy, chunks=chunks or a.chunks, lock=False, asarray=True,
                         fancy=False, name=f"lsio-{os.path.basename(path)}-{var}")


def _partial(path, variables, over, sel_tuples, stats_text, threads, max_memory, io):
    return _lsio.partial_stats(path, variables, over, sel_tuples, stats_text, threads,
                               max_memory, io, None)


def stats(path: str | os.PathLike,
          var: str | Iterable[str] | None = None,
          over: str | Iterable[str] | None = None,
          sel: Mapping[str, Any] | None = None,
          stats: str | Iterable[str] | None = None,
          threads: int | None = None,
          max_memory: int | str | None = None,
          *,
          isel: Mapping[str, Any] | None = None,
          client=None,
          split_dim: str | None = None,
          tasks: int | None = None,
          io: str = "auto"):
    """``lsio.stats`` on a dask.distributed cluster (``client``, default: the current one).

    The chunks are split into ``tasks`` shares (default: twice the cluster's worker threads)
    along ``split_dim`` (default: the reduced dimension with the most chunks), each computed by
    lsio on a worker. Arguments and result as :func:`lsio.stats`; ``hist:N`` is not supported.
    """
    path = os.fspath(path)
    client = client or _import("distributed").default_client()
    variables = _as_list(var)
    over_l = _as_list(over)
    root = _api.open(path)
    if variables:
        arrays = [root[v] if v else root for v in variables]
    elif isinstance(root, _api.Array):
        arrays = [root]
    else:
        arrays = [a for a in _walk(root) if not _is_coordinate(a)]
    if isel and sel:
        overlap = set(isel) & set(sel)
        if overlap:
            raise InvalidArgumentError(f"both isel and sel on {sorted(overlap)}")
    # The split dimension: reduced, in every variable, with the most chunks.
    candidates = {}
    for a in arrays:
        for d, n, c in zip(a.dims, a.shape, a.shards or a.chunks):
            if (not over_l or d in over_l) and d not in (sel or {}):
                candidates.setdefault(d, []).append((n, c))
    candidates = {d: v for d, v in candidates.items() if len(v) == len(arrays)}
    if split_dim is None:
        if not candidates:
            raise InvalidArgumentError("no reduced dimension shared by all variables to split on")
        split_dim = max(candidates, key=lambda d: min(n // c for n, c in candidates[d]))
    elif split_dim not in candidates:
        raise InvalidArgumentError(f"split_dim '{split_dim}' is not a reduced dimension of "
                                   "every variable")
    size, chunk = candidates[split_dim][0]
    if any(n != size for n, _ in candidates[split_dim]):
        raise InvalidArgumentError(f"variables differ in the size of '{split_dim}'")
    step = max(c for _, c in candidates[split_dim])
    # The positional range to split, within any isel on that dimension.
    base = slice(None)
    if isel and split_dim in isel:
        base = isel[split_dim]
        if not isinstance(base, slice) or base.step not in (None, 1):
            raise InvalidArgumentError(f"isel on split dimension '{split_dim}' must be a plain slice")
    lo, hi, _ = base.indices(size)
    n_tasks = tasks or max(1, 2 * sum(client.nthreads().values()))
    n_chunks = max(1, -(-(hi - lo) // step))
    per = max(1, -(-n_chunks // n_tasks))
    bounds = []
    start = lo
    first_boundary = (lo // step + 1) * step
    while start < hi:
        stop = min(hi, first_boundary + (per - 1) * step if start == lo else start + per * step)
        bounds.append((start, stop))
        start = stop
    stats_text = _stats_text(stats)
    if "hist:" in stats_text:
        raise InvalidArgumentError("hist:N is not supported by lsio.dask.stats")
    futures = []
    for a0, a1 in bounds:
        share_isel = dict(isel or {})
        share_isel[split_dim] = slice(a0, a1)
        futures.append(client.submit(
            _partial, path, [a.path for a in arrays] if variables or not isinstance(root, _api.Array) else [],
            over_l, selectors(isel=share_isel, sel=sel), stats_text, int(threads or 0),
            parse_size(max_memory), io, pure=False))
    parts = client.gather(futures)
    return report_to_dataset(_lsio.merge_partials(parts))


def _walk(group: "_api.Group"):
    for v in group.values():
        if isinstance(v, _api.Array):
            yield v
        else:
            yield from _walk(v)


def _is_coordinate(a: "_api.Array") -> bool:
    return a._info["is_coordinate"]
