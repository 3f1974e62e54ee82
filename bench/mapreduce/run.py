#!/usr/bin/env python3
"""The map_reduce benchmark (issue 17): your own function on every chunk, through lsio and
through dask, against lsio's own statistics (the ceiling: a fused decode-and-reduce in C++).

On each dataset written by bench/make_dataset.py (default 2q: 1 GiB float32, Zarr v2,
blosc(zstd, 1, shuffle) in 8x512x512 chunks; and 4q: Zarr v3 shards of zstd inner chunks), in
one run, the count of values above a threshold (15 degC, about half the values):

  lsio numpy   lsio.map_reduce(store, "t2m", lambda b, r: np.count_nonzero(b > T), add)
  lsio numba   the same with a numba function compiled with nogil=True (compiled before the
               timed region)
  lsio cfunc   the same as a numba @cfunc pair (map and combine, lsio.C_MAP_SIGNATURE), called
               from lsio's C++ workers with no GIL at all
  dask         da.from_zarr(store, component="t2m").map_blocks(count per block).sum()
               .compute() (threaded scheduler, as many workers as lsio's threads)
  lsio.stats   lsio.stats(store, var="t2m") (count, nan_count, min, max, sum, mean, std): the
               ceiling, every byte decoded and reduced in C++

Each side runs in its own process (this script with --side), timing the call only (not the
interpreter start-up and imports); CPU seconds are the process's user + system time over the
same region. Sides take turns for --rounds rounds (order rotated); the table gives medians and
the ratios of medians. With --cold (needs root) the page cache is dropped before every side;
otherwise the data is read once first and every side reads it warm (the table says which). The
three counts must agree.

Usage: bench/mapreduce/run.py [--data data/bench] [--which 2q,4q] [--threads 2] [--rounds 3]
                              [--cold] [--markdown FILE] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

THRESHOLD = 15.0  # degC: about half the values of the benchmark data
SIDES = ["lsio numpy", "lsio numba", "lsio cfunc", "dask", "lsio.stats"]


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_side(side: str, store: str, threads: int) -> dict:
    import operator

    import numpy as np

    threshold = np.float32(THRESHOLD)
    if side == "lsio numpy":
        import lsio

        def call():
            return lsio.map_reduce(store, "t2m", lambda b, r: int(np.count_nonzero(b > threshold)),
                                   operator.add, threads=threads)
    elif side == "lsio numba":
        import numba

        import lsio

        @numba.njit(nogil=True)
        def count(block, t):
            n = 0
            for v in block.ravel():
                n += v > t  # branch-free: LLVM vectorises it
            return n

        count(np.zeros((2, 2, 2), "f4"), threshold)  # compile outside the timed region

        def call():
            return lsio.map_reduce(store, "t2m", lambda b, r: count(b, threshold), operator.add,
                                   threads=threads)
    elif side == "lsio cfunc":
        import numba

        import lsio

        t = float(threshold)

        @numba.cfunc(lsio.C_MAP_SIGNATURE, nogil=True)
        def count_c(data, shape, origin, ndim, dtype, out):
            n = 1
            for d in range(ndim):
                n *= shape[d]
            v = numba.carray(data, (n,), np.float32)
            c = 0
            for x in v:
                c += x > t
            numba.carray(out, (1,), np.int64)[0] = c
            return 0

        @numba.cfunc(lsio.C_COMBINE_SIGNATURE, nogil=True)
        def add_c(a, b):
            numba.carray(a, (1,), np.int64)[0] += numba.carray(b, (1,), np.int64)[0]
            return 0

        def call():
            return int(lsio.map_reduce(store, "t2m", count_c, add_c, result="i8",
                                       threads=threads))
    elif side == "dask":
        import dask
        import dask.array as da

        def call():
            a = da.from_zarr(store, component="t2m")
            counts = a.map_blocks(
                lambda b: np.full((1,) * b.ndim, np.count_nonzero(b > threshold), np.int64),
                chunks=(1,) * a.ndim, dtype=np.int64)
            with dask.config.set(scheduler="threads", num_workers=threads):
                return int(counts.sum().compute())
    elif side == "lsio.stats":
        import lsio
        import xarray  # noqa: F401  (lsio.stats returns a Dataset; imported untimed)

        def call():
            ds = lsio.stats(store, var="t2m", threads=threads)
            return int(ds["t2m_count"].values)
    else:
        raise SystemExit(f"unknown side {side!r}")
    cpu0, t0 = _cpu(), time.perf_counter()
    result = call()
    seconds, cpu = time.perf_counter() - t0, _cpu() - cpu0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"side": side, "seconds": seconds, "cpu_seconds": cpu, "result": result,
            "peak_rss_mib": rss}


def drop_caches() -> bool:
    try:
        subprocess.run(["sync"], check=True)
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def logical_bytes(store: str) -> int:
    import zarr

    a = zarr.open_array(os.path.join(store, "t2m"), mode="r")
    return int(a.nbytes)


def warm(store: str) -> None:
    for root, _, files in os.walk(store):
        for f in files:
            with open(os.path.join(root, f), "rb") as fh:
                while fh.read(16 << 20):
                    pass


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--side", help=argparse.SUPPRESS)
    ap.add_argument("--store", help=argparse.SUPPRESS)
    ap.add_argument("--data", default="data/bench")
    ap.add_argument("--which", default="2q,4q")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cold", action="store_true", help="drop the page cache before each side")
    ap.add_argument("--markdown")
    ap.add_argument("--json")
    args = ap.parse_args()
    if args.side:
        print(json.dumps(run_side(args.side, args.store, args.threads)))
        return 0

    results = []
    for which in args.which.split(","):
        store = os.path.join(args.data, f"{which}.zarr")
        if not os.path.isdir(store):
            subprocess.run([sys.executable, "bench/make_dataset.py", "--which", which, "--out",
                            args.data], check=True)
        nbytes = logical_bytes(store)
        if not args.cold:
            warm(store)
        runs: dict[str, list[dict]] = {s: [] for s in SIDES}
        for rnd in range(args.rounds):
            order = SIDES[rnd % len(SIDES):] + SIDES[:rnd % len(SIDES)]
            for side in order:
                if args.cold:
                    drop_caches()
                proc = subprocess.run(
                    [sys.executable, __file__, "--side", side, "--store", store, "--threads",
                     str(args.threads)], capture_output=True, text=True)
                if proc.returncode != 0:
                    print(proc.stderr, file=sys.stderr)
                    raise SystemExit(f"{side} failed on {store}")
                r = json.loads(proc.stdout.strip().splitlines()[-1])
                runs[side].append(r)
                print(f"  {which} round {rnd + 1} {side:11s} {r['seconds']:7.2f} s "
                      f"{nbytes / r['seconds'] / 1e9:6.2f} GB/s  cpu {r['cpu_seconds']:6.2f} s  "
                      f"result {r['result']}", flush=True)
        counts = {r["result"] for s in ("lsio numpy", "lsio numba", "lsio cfunc", "dask")
                  for r in runs[s]}
        med = {s: statistics.median(r["seconds"] for r in runs[s]) for s in SIDES}
        cpu = {s: statistics.median(r["cpu_seconds"] for r in runs[s]) for s in SIDES}
        results.append({
            "dataset": which, "bytes": nbytes, "median_seconds": med, "median_cpu_seconds": cpu,
            "counts_agree": len(counts) == 1, "count": sorted(counts)[0], "runs": runs,
            "numpy_vs_dask": med["dask"] / med["lsio numpy"],
            "numba_vs_dask": med["dask"] / med["lsio numba"],
            "numba_vs_stats": med["lsio.stats"] / med["lsio numba"],
            "cfunc_vs_dask": med["dask"] / med["lsio cfunc"],
            "cfunc_vs_stats": med["lsio.stats"] / med["lsio cfunc"],
            "numpy_vs_stats": med["lsio.stats"] / med["lsio numpy"],
            "cpu_numpy_vs_dask": cpu["dask"] / cpu["lsio numpy"],
            "cpu_numba_vs_stats": cpu["lsio.stats"] / cpu["lsio numba"],
        })

    lines = [f"map_reduce benchmark ({'cold' if args.cold else 'warm'} page cache, "
             f"{args.threads} threads, {args.rounds} rounds, medians; load average "
             f"{os.getloadavg()[0]:.1f})", "",
             "| dataset | side | seconds | GB/s | CPU s | peak RSS MiB |",
             "|---|---|---|---|---|---|"]
    for r in results:
        for s in SIDES:
            t = r["median_seconds"][s]
            rss = max(x["peak_rss_mib"] for x in r["runs"][s])
            lines.append(f"| {r['dataset']} | {s} | {t:.2f} | {r['bytes'] / t / 1e9:.2f} | "
                         f"{r['median_cpu_seconds'][s]:.2f} | {rss:.0f} |")
    lines += ["", "Ratios of median wall times (CPU seconds in brackets):", "",
              "| dataset | numpy vs dask (target 2x) | numba vs dask | numba vs lsio.stats "
              "(target 0.8x) | cfunc vs dask | cfunc vs lsio.stats (target 0.8x) | "
              "numpy vs lsio.stats | counts agree |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        c = r["median_cpu_seconds"]
        lines.append(
            f"| {r['dataset']} | {r['numpy_vs_dask']:.2f}x ({c['dask'] / c['lsio numpy']:.2f}x) | "
            f"{r['numba_vs_dask']:.2f}x ({c['dask'] / c['lsio numba']:.2f}x) | "
            f"{r['numba_vs_stats']:.2f}x ({c['lsio.stats'] / c['lsio numba']:.2f}x) | "
            f"{r['cfunc_vs_dask']:.2f}x ({c['dask'] / c['lsio cfunc']:.2f}x) | "
            f"{r['cfunc_vs_stats']:.2f}x ({c['lsio.stats'] / c['lsio cfunc']:.2f}x) | "
            f"{r['numpy_vs_stats']:.2f}x ({c['lsio.stats'] / c['lsio numpy']:.2f}x) | "
            f"{'yes' if r['counts_agree'] else 'NO'} |")
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text + "\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0 if all(r["counts_agree"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
