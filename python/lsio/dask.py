"""lsio on dask: lazy dask arrays read through lsio, and statistics spread over a
dask.distributed cluster.

``lsio.to_dask`` makes a dask array whose tasks each read one block through one call into
lsio's engine (parallel IO and decoding inside the task). Blocks are whole storage chunks
(shards up to 64 MiB) grouped along the slowest dimensions to at least 8 MiB (16 MiB aimed
at, ``lsio.Array.preferred_chunks``), or the chunks you give. The array pickles as a native handle: each worker process opens the
dataset once.

``lsio.dask.stats`` splits the work along a dimension that is reduced, at storage chunk
boundaries (planned in C++, ``ops::PlanStatsPartitions``), runs lsio's C++ engine on each share
in a dask task, and merges the shares' partial accumulators (in order) on the client: the same
statistics as ``lsio.stats``, up to floating-point rounding order.
"""

from __future__ import annotations

import importlib
import os
from typing import Any, Iterable, Mapping

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


CHUNK_TARGET_BYTES = 16 << 20


def to_dask(path: "str | os.PathLike | _api.Array", var: str = "", chunks: Any = None, *,
            target_bytes: int = CHUNK_TARGET_BYTES, consolidated: bool | None = None,
            io: str = "auto", storage_options: Mapping[str, Any] | None = None):
    """A dask array of variable ``var`` (``""`` for a store that is one array) whose tasks read
    through lsio.

    ``chunks``: None (default) for lsio's blocks of about ``target_bytes`` decoded bytes aligned
    to storage chunks; ``"storage"`` for one storage chunk (shard) per task; anything
    ``dask.array.from_array`` accepts otherwise (a tuple, ``"auto"``, a dict by axis...).
    ``path`` may also be an :class:`lsio.Array`.
    """
    da = _import("dask.array")
    if isinstance(path, _api.Array):
        a = path
    else:
        root = _api.open(path, consolidated=consolidated, io=io, storage_options=storage_options)
        a = root[var] if var else root
        if not isinstance(a, _api.Array):
            raise InvalidArgumentError(f"'{var}' is a group, not an array")
    if chunks is None:
        chunks = a.preferred_chunks(target_bytes)
    elif isinstance(chunks, str) and chunks == "storage":
        chunks = a._h.storage_chunks
    elif isinstance(chunks, Mapping):
        # By dimension name as well as by axis.
        chunks = {a.dims.index(k) if isinstance(k, str) else k: v for k, v in chunks.items()}
    name = f"lsio-{os.path.basename(os.path.normpath(a.store_path))}-{a.path}-" + \
        _token(a, chunks)
    return da.from_array(a, chunks=chunks, lock=False, asarray=True, fancy=False, name=name,
                         meta=_meta(a))


def _token(a: "_api.Array", chunks: Any) -> str:
    from dask.base import tokenize

    return tokenize(a._h.spec, a.path, a.shape, str(a.dtype), repr(chunks))


def _meta(a: "_api.Array"):
    import numpy as np

    return np.empty((0,) * a.ndim, dtype=a.dtype)


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

    The work is split into at most ``tasks`` shares (default: twice the cluster's worker
    threads) along ``split_dim`` (default: the reduced dimension shared by every variable that
    spans the most storage chunks), at storage chunk boundaries, each computed by lsio on a
    worker. Arguments and result as :func:`lsio.stats`; ``hist:N`` is not supported.
    """
    path = os.fspath(path)
    client = client or _import("distributed").default_client()
    if isel and sel:
        overlap = set(isel) & set(sel)
        if overlap:
            raise InvalidArgumentError(f"both isel and sel on {sorted(overlap)}")
    over_l = _as_list(over)
    stats_text = _stats_text(stats)
    n_tasks = tasks or max(1, 2 * sum(client.nthreads().values()))
    _, dim, shares = _lsio.plan_partitions(
        path, _as_list(var), over_l, selectors(isel=isel, sel=sel), stats_text, io, n_tasks,
        split_dim or "")
    rest_isel = {k: v for k, v in (isel or {}).items() if k != dim}
    rest_sel = {k: v for k, v in (sel or {}).items() if k != dim}
    futures = []
    for a0, a1 in shares:
        share = selectors(isel={**rest_isel, dim: slice(a0, a1)}, sel=rest_sel)
        futures.append(client.submit(
            _partial, path, _as_list(var), over_l, share, stats_text, int(threads or 0),
            parse_size(max_memory), io, pure=False))
    parts = client.gather(futures)
    return report_to_dataset(_lsio.merge_partials(parts))
