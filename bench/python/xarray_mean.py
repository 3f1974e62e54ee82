#!/usr/bin/env python3
"""The xarray side of the stats benchmark, exactly the expression from the Python issue:

    --engine lsio:  xr.open_dataset(STORE, engine="lsio")[VAR].mean().compute()
    --engine zarr:  xr.open_zarr(STORE)[VAR].mean().compute()
    --engine lsio --chunks:  xr.open_dataset(STORE, engine="lsio", chunks={})[VAR].mean().compute()

The first is a lazily indexed (non-dask) variable: ``.mean()`` reads the whole array into
memory through lsio's engine and reduces it with numpy (so it needs the array's size in RAM and
pays for first-touching that memory). The second is a dask array over the Zarr chunks (what
open_zarr gives by default), reduced on dask's default threaded scheduler; the third is the
same dask graph with every chunk read through lsio.

Prints one JSON line: mean, seconds (open + mean + compute, in process).
"""

import argparse
import json
import sys
import time

import xarray as xr


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("store")
    ap.add_argument("--var", default="t2m")
    ap.add_argument("--engine", choices=("lsio", "zarr"), required=True)
    ap.add_argument("--chunks", action="store_true",
                    help="open_dataset(..., chunks={}): dask chunks = the stored chunks")
    args = ap.parse_args()
    start = time.perf_counter()
    if args.engine == "lsio":
        kwargs = {"chunks": {}} if args.chunks else {}
        value = xr.open_dataset(args.store, engine="lsio", **kwargs)[args.var].mean().compute()
    else:
        value = xr.open_zarr(args.store)[args.var].mean().compute()
    seconds = time.perf_counter() - start
    print(json.dumps({"mean": float(value), "seconds": seconds}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
