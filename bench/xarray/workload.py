#!/usr/bin/env python3
"""One side of the xarray benchmark (bench/xarray/run.py), in its own process so that its peak
RSS is its own:

    --engine zarr   xr.open_zarr(STORE)                                  (its default chunks)
    --engine lsio   xr.open_dataset(STORE, engine="lsio", chunks={})     (lsio's blocks)

and one workflow, on dask's default (threaded) scheduler:

    mean      ds[v].mean().compute()
    isel      ds[v].isel(time=slice(0, N // 4)).mean("time").compute()
    groupby   ds[v].groupby("time.month").mean().compute()

or, without dask (chunks=None for both engines; xarray's lazy indexing):

    points    1,000 random single elements: ds[v][t, y, x].values
    windows   1,000 random 64x64 windows:   ds[v][t, y:y+64, x:x+64].values
    points-array, windows-array   the same straight on the array objects (zarr.open_array vs
                                  lsio.open), without xarray's indexing layers

Writes the result to --out (.npy) for the driver to compare, and prints one JSON line:
{"seconds": ..., "open_s": ...}: for the dask workflows, open + compute; for the reads, the
1,000 reads alone (after the open and one read that loads the libraries both sides use).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import xarray as xr

N_READS = 1000


def open_ds(store: str, engine: str, dask_chunks: bool):
    if engine == "zarr":
        return xr.open_zarr(store) if dask_chunks else xr.open_zarr(store, chunks=None)
    return xr.open_dataset(store, engine="lsio", chunks={} if dask_chunks else None)


def indices(shape, window: int, seed: int = 20261206) -> np.ndarray:
    rng = np.random.default_rng(seed)
    hi = [shape[0], shape[1] - window + 1, shape[2] - window + 1]
    return rng.integers(0, hi, size=(N_READS, 3))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("store")
    ap.add_argument("--var", default="t2m")
    ap.add_argument("--engine", choices=("lsio", "zarr"), required=True)
    ap.add_argument("--workflow", required=True,
                    choices=("mean", "isel", "groupby", "points", "windows", "points-array",
                             "windows-array"))
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    start = time.perf_counter()
    if args.workflow in ("mean", "isel", "groupby"):
        ds = open_ds(args.store, args.engine, True)
        opened = time.perf_counter()
        open_s = opened - start
        v = ds[args.var]
        if args.workflow == "mean":
            result = v.mean().compute().values
        elif args.workflow == "isel":
            result = v.isel(time=slice(0, v.sizes["time"] // 4)).mean("time").compute().values
        else:
            result = v.groupby("time.month").mean().compute().values
    elif args.workflow in ("points", "windows"):
        ds = open_ds(args.store, args.engine, False)
        v = ds[args.var]
        v[0, 0, 0].values
        opened = time.perf_counter()
        open_s, start = opened - start, opened
        w = 64 if args.workflow == "windows" else 1
        idx = indices(v.shape, w)
        out = np.empty((N_READS, w, w), dtype=v.dtype)
        for i, (t, y, x) in enumerate(idx):
            out[i] = v[t, y:y + w, x:x + w].values
        result = out
    else:
        if args.engine == "zarr":
            import zarr

            a = zarr.open_group(args.store, mode="r")[args.var]
        else:
            import lsio

            a = lsio.open(args.store)[args.var]
        a[0, 0, 0]
        opened = time.perf_counter()
        open_s, start = opened - start, opened
        w = 64 if args.workflow == "windows-array" else 1
        idx = indices(a.shape, w)
        out = np.empty((N_READS, w, w), dtype=a.dtype)
        for i, (t, y, x) in enumerate(idx):
            out[i] = a[t, y:y + w, x:x + w]
        result = out
    seconds = time.perf_counter() - start
    np.save(args.out, np.asarray(result))
    print(json.dumps({"seconds": seconds, "open_s": open_s}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
