"""lsio.stats: summary statistics as an xarray Dataset."""

from __future__ import annotations

import json
import os
import re
from typing import Any, Iterable, Mapping

import numpy as np

from . import _api, _lsio
from ._run import run_cancellable
from ._selection import selectors
from .errors import InvalidArgumentError

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$", re.IGNORECASE)


def parse_size(value: int | str | None) -> int:
    """Bytes from an int or text such as "256MiB", "1g" (binary multiples); 0 for None."""
    if value is None:
        return 0
    if isinstance(value, (int, np.integer)):
        return int(value)
    m = _SIZE.match(str(value))
    if not m:
        raise InvalidArgumentError(f"max_memory: cannot read {value!r} as a size")
    scale = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[m.group(2).lower()]
    return int(float(m.group(1)) * scale)


def _as_list(value: str | Iterable[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


def _stats_text(stats: str | Iterable[str] | None) -> str:
    if stats is None:
        return ""
    return stats if isinstance(stats, str) else ",".join(stats)


def _variable_name(name: str, stat: str) -> str:
    return f"{(name or 'data').replace('/', '_')}_{stat}"


def report_to_dataset(report: dict, skip: bool = False):
    """The extension's report as an xarray Dataset: one variable "<var>_<stat>" per variable and
    statistic (0-d for whole selections, over the remaining dims otherwise, with their
    coordinates decoded as xarray decodes them); run details in ``attrs``."""
    import xarray as xr

    data_vars: dict[str, Any] = {}
    coords: dict[str, Any] = {}
    for v in report["variables"]:
        attrs = json.loads(v["attributes"])
        if "stats" in v:
            for stat, value in v["stats"].items():
                if stat in ("count", "nan_count"):
                    arr = np.int64(value)
                else:
                    arr = np.float64(np.nan if value is None else value)
                data_vars[_variable_name(v["name"], stat)] = ((), arr, dict(attrs))
            if "quantiles" in v:
                qs = np.array([float(k) for k, _ in v["quantiles"]])
                data_vars[_variable_name(v["name"], "quantile")] = (
                    ("quantile",), np.array([x for _, x in v["quantiles"]]), dict(attrs))
                coords["quantile"] = (("quantile",), qs, {})
            if "histogram_counts" in v:
                base = (v["name"] or "data").replace("/", "_")
                data_vars[f"{base}_histogram"] = ((f"{base}_bin",), v["histogram_counts"])
                data_vars[f"{base}_histogram_edges"] = ((f"{base}_bin_edge",),
                                                        v["histogram_edges"])
        else:
            dims = tuple(v["dims"])
            for stat, values in v["maps"].items():
                a = dict(attrs)
                a["cell_methods"] = f"statistic: {stat}"
                if stat in ("count", "nan_count"):
                    # Empty resample bins are NaN, as xarray gives them: then counts stay float.
                    if not np.isnan(values).any():
                        values = values.astype(np.int64)
                    a.pop("units", None)
                data_vars[_variable_name(v["name"], stat)] = (dims, values, a)
            if "quantile_maps" in v:
                # xarray's .quantile(q, dim=...) layout: a leading "quantile" dimension.
                a = dict(attrs)
                a["cell_methods"] = "statistic: quantile"
                data_vars[_variable_name(v["name"], "quantile")] = (
                    ("quantile",) + dims, v["quantile_maps"], a)
                coords["quantile"] = (("quantile",),
                                      np.array([q for _, q in v["quantile_keys"]]), {})
            for c in v["coords"]:
                if c["name"] in coords:
                    continue
                values = np.frombuffer(c["values"], dtype=np.dtype(c["dtype"]))
                coords[c["name"]] = ((c["name"],), values.copy(), json.loads(c["attributes"]))
    # Only the coordinates are CF-decoded (times); the statistics are final values already.
    decoded = xr.decode_cf(xr.Dataset(coords), mask_and_scale=False)
    ds = xr.Dataset(data_vars, coords=decoded.variables)
    ds.attrs.update({
        "bytes_read": report["bytes_read"],
        "bytes_processed": report["bytes_processed"],
        "seconds": report["seconds"],
        "chunks": report["chunks"],
        "missing_chunks": report["missing_chunks"],
        "io_backend": report["io_backend"],
        "threads": report["threads"],
    })
    if report["notes"]:
        ds.attrs["notes"] = list(report["notes"])
    skipped = {v["name"]: list(v["skipped_chunks"]) for v in report["variables"]
               if v["skipped_chunks"] or skip}
    if skipped:
        ds.attrs["skipped_chunks"] = json.dumps(skipped)
        ds.attrs["skipped_elements"] = json.dumps(
            {v["name"]: int(v["skipped_elements"]) for v in report["variables"]
             if v["skipped_chunks"] or skip})
    return ds


def stats(path: str | os.PathLike | Iterable[str | os.PathLike],
          var: str | Iterable[str] | None = None,
          over: str | Iterable[str] | None = None,
          sel: Mapping[str, Any] | None = None,
          stats: str | Iterable[str] | None = None,
          threads: int | None = None,
          max_memory: int | str | None = None,
          progress: bool = False,
          *,
          isel: Mapping[str, Any] | None = None,
          io: str = "auto",
          on_error: str = "fail",
          groupby: str | None = None,
          resample: Mapping[str, str] | None = None,
          storage_options: Mapping[str, Any] | None = None):
    """Summary statistics of Zarr variables, whole or along named dimensions.

    Parameters
    ----------
    path: the Zarr store (group or array); or GRIB2: a file, a directory of GRIB files, a glob
        ("/data/gfs/*.grib2"), or a list of them opened as one dataset (cfgrib's view of all
        their fields, concatenated along time and step as xr.open_mfdataset(...,
        engine="cfgrib", combine="by_coords") does). GRIB variables are named
        "<typeOfLevel>/<stepType>/<name>" (e.g. "isobaricInhPa/instant/t").
    var: variable path(s); default every data variable (coordinates skipped).
    over: dimension(s) to reduce over; default all (one value per statistic).
    sel: label selections as xarray's ``.sel``: ``{"time": slice("2020-01", "2020-06"),
        "lat": slice(60, 30)}`` (inclusive; either coordinate order).
    stats: "count,nan_count,min,max,sum,mean,std,var,hist:N,quantile:Q,Q" or a list; default
        all but var. ``quantile:0.01,0.5,0.99`` gives exact quantiles equal to
        ``numpy.nanquantile(..., method="linear")`` as ``<var>_quantile`` over a ``quantile``
        dimension; with ``over``, per cell (a leading ``quantile`` dimension, as xarray's
        ``.quantile(q, dim=...)``); with ``groupby`` / ``resample``, per group and cell (a
        trailing ``quantile`` dimension, as xarray's ``.groupby(...).quantile(q)``). Every
        value of a tile of cells is held in memory (8 bytes each; for groups, a slot for each
        time of the longest group).
    threads: CPU threads (default one per core).
    max_memory: memory budget for data in flight, e.g. "256MiB" (the default).
    progress: show a tqdm progress bar.
    isel: positional selections as xarray's ``.isel``: ``{"time": slice(0, 100), "x": 5}``.
    io: "auto", "uring" or "posix".
    groupby: a climate grouping of a time dimension, as xarray's ``ds.groupby``:
        "time.month", "time.season", "time.dayofyear", "time.hour" or "time.year". Every other
        dimension is kept; the result is over the group dimension ("month", ...).
    resample: ``{"time": "1MS"}`` as xarray's ``ds.resample``: a pandas frequency (h, min, s,
        D, W, MS, ME, YS, YE with a multiple); the result is over the resampled ``time``.
    storage_options: object-storage settings for s3:// and http(s):// locations, with fsspec's
        names (``{"anon": True}``, ``key``, ``secret``, ``token``, ``endpoint_url``,
        ``region``, ...; docs/object-storage.md), as for :func:`lsio.open`.
    on_error: "fail", or "skip" to continue past unreadable chunks (listed in
        ``attrs["skipped_chunks"]``, and the elements the statistics therefore exclude in
        ``attrs["skipped_elements"]``; both JSON objects by variable name, present with "skip"
        even when nothing was skipped).

    Returns
    -------
    xarray.Dataset with one variable "<var>_<stat>" per variable and statistic: 0-d without
    ``over``, else over the remaining dimensions with their coordinates. Values are CF-decoded
    (masked and scaled) as xarray decodes them, NaN-skipping as numpy's nan functions; std and
    var use ddof 0. Per-cell statistics (``over``, ``groupby``, ``resample``) of float32 values
    are float32, as numpy and xarray return them (accumulated in float64, rounded once); counts
    are int64, quantiles and everything else float64; 0-d statistics are float64.

    Raises
    ------
    FileNotFoundError, KeyError (unknown variable or dimension), ValueError (bad selection or
    option), lsio.errors.Error subclasses naming the chunk and file; KeyboardInterrupt on Ctrl-C
    (the call stops promptly and leaves no threads behind).
    """
    paths = [os.fspath(path)] if isinstance(path, (str, os.PathLike)) else \
        [os.fspath(p) for p in path]
    if not paths:
        raise ValueError("no path given")
    for p in paths:
        if "://" not in p and not any(c in p for c in "*?[") and not os.path.exists(p):
            raise FileNotFoundError(2, "No such file or directory", p)
    group = ""
    if groupby is not None and resample is not None:
        raise ValueError("give groupby or resample, not both")
    if groupby is not None:
        group = f"groupby:{groupby}"
    elif resample is not None:
        if len(resample) != 1:
            raise ValueError("resample: one {dimension: frequency}")
        ((dim, freq),) = resample.items()
        group = f"resample:{dim}={freq}"
    bar = None
    callback = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=0, unit="B", unit_scale=True, desc="lsio stats")

        def callback(done, total, chunks_done, chunks_total, pass_, passes):
            if bar.total != total:
                bar.reset(total=total)
            bar.n = done
            bar.set_postfix_str(f"chunks {chunks_done}/{chunks_total}"
                                + (f" pass {pass_}/{passes}" if passes > 1 else ""),
                                refresh=False)
            bar.refresh()
    try:
        report = run_cancellable(
            _lsio.compute_stats, paths[0], _as_list(var), _as_list(over),
            selectors(isel=isel, sel=sel), _stats_text(stats), int(threads or 0),
            parse_size(max_memory), io, on_error, callback, group=group,
            more_paths=paths[1:], storage_options=_api._storage_options(storage_options))
    finally:
        if bar is not None:
            bar.close()
    ds = report_to_dataset(report, skip=on_error == "skip")
    if group:
        # xarray's groupby(...).quantile(q) / resample(...).quantile(q) put "quantile" last.
        for name in [n for n, v in ds.data_vars.items() if "quantile" in v.dims and v.ndim > 1]:
            ds[name] = ds[name].transpose(..., "quantile")
    return ds
