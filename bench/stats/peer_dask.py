#!/usr/bin/env python3
"""Peer: dask.array on zarr-python, as a careful user computes the four statistics.

    dask.compute(a.min(), a.max(), a.mean(), a.std())   # one graph: each chunk read once

on ``dask.array.from_zarr``, threaded scheduler with --threads workers. Dask chunks are the
Zarr chunks, except where that would make tiny tasks: --chunks "16,720,1440" reads several
Zarr chunks per task (a careful user does that for 64 KiB chunks, and uses the shard shape
for a sharded array, whose ``chunks`` are the small inner chunks).

Prints one JSON line: count, min, max, mean, std, seconds (open + compute, in process).
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dask  # noqa: E402
import dask.array as da  # noqa: E402
import zarr  # noqa: E402

from peer_common import Timer, emit  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("store")
    ap.add_argument("--var", default="t2m")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--chunks", default="", help="dask chunks, e.g. 16,720,1440 (default: "
                    "the Zarr chunks, or the shards of a sharded array)")
    args = ap.parse_args()
    with Timer() as t:
        z = zarr.open_array(args.store, path=args.var, mode="r")
        if args.chunks:
            chunks = tuple(int(c) for c in args.chunks.split(","))
        else:
            chunks = z.shards or z.chunks
        a = da.from_zarr(z, chunks=chunks)
        with dask.config.set(scheduler="threads", num_workers=args.threads):
            mn, mx, mean, std = dask.compute(a.min(), a.max(), a.mean(), a.std())
    emit({"count": int(a.size), "min": float(mn), "max": float(mx), "mean": float(mean),
          "std": float(std)}, t.seconds, tasks=int(a.npartitions))
    return 0


if __name__ == "__main__":
    sys.exit(main())
