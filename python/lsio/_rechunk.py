"""lsio.rechunk: a dataset written again as Zarr with new chunks, in bounded memory."""

from __future__ import annotations

import os
from typing import Any, Callable, Iterable, Mapping

from . import _lsio
from ._run import run_cancellable
from ._stats import parse_size
from .errors import InvalidArgumentError


def _sizes(value: Mapping[str, int] | None, name: str) -> dict[str, int]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidArgumentError(f"{name}: expected a mapping of dimension name to size")
    out = {}
    for k, v in value.items():
        if v is None:
            v = -1
        v = int(v)
        if v < 1 and v != -1:
            raise InvalidArgumentError(f"{name}: {k}={v}: a size must be >= 1, or -1 (or None) "
                                       "for the full length")
        out[str(k)] = v
    return out


def rechunk(source: str | os.PathLike, destination: str | os.PathLike,
            chunks: Mapping[str, int],
            shards: Mapping[str, int] | None = None,
            var: str | Iterable[str] | None = None,
            codec: str = "zstd:3",
            zarr_format: int | None = None,
            max_memory: int | str | None = "256MiB",
            threads: int = 0,
            resume: bool = False,
            dry_run: bool = False,
            temp: str | os.PathLike | None = None,
            progress: Callable[[int, int, int, int], Any] | None = None,
            as_dataset: bool = True) -> Any:
    """Rechunks every variable of ``source`` (Zarr v2/v3, GRIB2) into a new Zarr store.

    ``chunks`` maps dimension names to new chunk sizes (-1 or None: the full length; other
    dimensions keep the source's chunks); ``shards`` (Zarr v3) to shard sizes, multiples of the
    chunks. ``var`` limits the variables (their dimensions' coordinates always come). Memory
    stays within ``max_memory``; each write unit is written atomically, and ``resume=True``
    finishes an interrupted run into the same ``destination`` without redoing finished units
    (it refuses a destination that holds a different plan). A two-stage plan keeps its
    intermediate store at ``temp`` (default: ``destination + ".lsio-stage"``). ``progress`` is
    called as ``progress(bytes_done, bytes_total, units_done, units_total)``.

    Returns the rechunked dataset opened with ``xarray.open_zarr`` (``as_dataset=False``: a dict
    with the plan and what was read and written); with ``dry_run=True`` the plan as text.
    """
    variables = [var] if isinstance(var, str) else list(var or [])
    fmt = 0 if zarr_format is None else int(zarr_format)
    result = run_cancellable(
        _lsio.rechunk, os.fspath(source), os.fspath(destination), _sizes(chunks, "chunks"),
        _sizes(shards, "shards"), variables, codec, fmt, parse_size(max_memory), int(threads),
        bool(resume), bool(dry_run), os.fspath(temp) if temp is not None else "", progress)
    if dry_run:
        return result["plan"]
    if not as_dataset:
        return result
    import xarray as xr

    return xr.open_zarr(os.fspath(destination), consolidated=True)
