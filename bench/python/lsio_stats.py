#!/usr/bin/env python3
"""The Python side of the stats benchmark: ``lsio.stats`` (the package `make build` installs
into .venv), timed around the call itself, and the same statistics as the CLI's JSON.

    lsio_stats.py STORE [--var t2m] [--threads N] [--max-memory 256MiB]

Prints one JSON line: count, min, max, mean, std, seconds (the lsio.stats call, including
building the xarray Dataset it returns), and the report's own seconds / bytes_read.

lsio.stats returns an xarray Dataset, so its caller uses xarray; xarray's one-time start-up
(importing it, and the duck-array modules such as dask that it imports when it builds its first
Dataset, together ~0.7 s here) is paid before the clock starts and reported as
``startup_seconds``, so that ``seconds`` compares the call with the CLI's run.
"""

import argparse
import json
import sys
import time



def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("store")
    ap.add_argument("--var", default="t2m")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--max-memory", default=None)
    args = ap.parse_args()
    t0 = time.perf_counter()
    import lsio
    import xarray as xr

    xr.Dataset({"warm": ((), 0.0)})  # xarray imports its duck-array modules on first use
    startup = time.perf_counter() - t0
    start = time.perf_counter()
    ds = lsio.stats(args.store, var=args.var, threads=args.threads, max_memory=args.max_memory)
    seconds = time.perf_counter() - start
    name = args.var.replace("/", "_")
    out = {stat: ds[f"{name}_{stat}"].item() for stat in ("count", "min", "max", "mean", "std")}
    out.update(seconds=seconds, startup_seconds=startup, lsio_seconds=ds.attrs["seconds"],
               bytes_read=ds.attrs["bytes_read"], threads=ds.attrs["threads"])
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
