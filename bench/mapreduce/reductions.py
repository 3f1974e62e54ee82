#!/usr/bin/env python3
"""Climate reductions benchmark (issue 17): monthly climatology and exact global quantiles
through lsio, against xarray + dask (+ flox) and dask.array.percentile / numpy.

On a dataset written by bench/make_dataset.py (default 2q: 1 GiB float32, Zarr v2,
blosc(zstd, 1, shuffle) in 8x512x512 chunks, daily time steps from 2000-01-01), in one run:

  climatology, lsio      lsio.stats(store, var="t2m", groupby="time.month",
                         stats=["mean", "std"], max_memory=--clim-max-memory (default 1GiB:
                         the per-cell accumulators fit it whole))
  climatology, lsio in tiles
                         the same with max_memory=--clim-tiled-max-memory (default 120MiB:
                         the accumulators do not fit, the run makes passes over tiles of
                         chunk columns and runs of months; the budget under which the
                         process stays within the 300 MiB the issue asks: 288-295 MiB at
                         120-124 MiB since the IO buffers take huge pages, which
                         cost ~6 MiB of RSS and save ~15% of the CPU)
  climatology, xarray    xr.open_zarr(store) then dask.compute(t2m.groupby("time.month").mean(),
                         .std()) with flox (xarray's use_flox, threaded scheduler)
  quantiles, lsio        lsio.stats(store, var="t2m", stats=["quantile:0.01,0.5,0.99"]) (exact)
  quantiles, dask        dask.array.percentile(da.from_zarr(...).ravel(), [1, 50, 99])
                         (approximate)
  quantiles, numpy       numpy.nanquantile(copy, [0.01, 0.5, 0.99], method="linear") on an
                         in-memory copy read with zarr-python (the read is timed apart)
  per-cell quantiles, lsio
                         lsio.stats(store, var="t2m", over="time", stats=["quantile:0.01,0.5,
                         0.99"], max_memory=--cellq-max-memory (default 2GiB: every value of
                         a tile of chunk columns is held, 8 bytes each))
  per-cell quantiles, xarray
                         xr.open_zarr(store).t2m.chunk(time=-1).quantile(Q, dim="time") with
                         dask (threaded scheduler): xarray's quantile needs the reduced
                         dimension in one chunk
  per-cell quantiles, numpy
                         numpy.nanquantile(copy, Q, axis=0, method="linear") on the in-memory
                         copy (the read timed apart)

Each side runs in its own process (this script with --side), timing the call only; peak RSS
is the process's (interpreter and imports included). With --cold (needs root) the page cache is
dropped before every side. The climatologies must agree (1e-5 relative, float32 results vs
float64) and lsio's quantiles (global and per cell) must equal numpy's exactly; dask's error
and whether xarray's per-cell quantiles equal numpy's are reported.

Usage: bench/mapreduce/reductions.py [--data data/bench] [--which 2q] [--threads 2]
                                     [--rounds 1] [--cold] [--markdown FILE] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

Q = [0.01, 0.5, 0.99]
SIDES = ["clim lsio", "clim lsio tiled", "clim xarray+flox", "quant lsio", "quant dask",
         "quant numpy", "cellq lsio", "cellq xarray", "cellq numpy"]


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _file(side: str) -> str:
    return side.replace(" ", "_").replace("+", "_")


def run_side(side: str, store: str, threads: int, out: str, clim_memory: str,
             clim_tiled_memory: str, cellq_memory: str) -> dict:
    import numpy as np

    extra: dict = {}
    if side == "clim lsio tiled":
        clim_memory = clim_tiled_memory
    if side in ("clim lsio", "clim lsio tiled"):
        import lsio
        import xarray  # noqa: F401  (lsio.stats returns a Dataset; imported untimed)

        def call():
            ds = lsio.stats(store, var="t2m", groupby="time.month", stats=["mean", "std"],
                            threads=threads, max_memory=clim_memory)
            return ds["t2m_mean"].values, ds["t2m_std"].values
    elif side == "clim xarray+flox":
        import dask
        import flox  # noqa: F401  (xarray uses it when installed; fail loudly if it is not)
        import xarray as xr

        def call():
            with xr.set_options(use_flox=True), \
                    dask.config.set(scheduler="threads", num_workers=threads):
                ds = xr.open_zarr(store)
                g = ds["t2m"].groupby("time.month")
                mean, std = dask.compute(g.mean(), g.std())
            return mean.values, std.values
    elif side == "quant lsio":
        import lsio
        import xarray  # noqa: F401  (lsio.stats returns a Dataset; imported untimed)

        def call():
            ds = lsio.stats(store, var="t2m", stats=[f"quantile:{','.join(map(str, Q))}"],
                            threads=threads)
            return ds["t2m_quantile"].values
    elif side == "quant dask":
        import dask
        import dask.array as da

        def call():
            a = da.from_zarr(store, component="t2m")
            with dask.config.set(scheduler="threads", num_workers=threads):
                return da.percentile(a.ravel(), [100 * q for q in Q]).compute()
    elif side == "cellq lsio":
        import lsio
        import xarray  # noqa: F401  (lsio.stats returns a Dataset; imported untimed)

        def call():
            ds = lsio.stats(store, var="t2m", over="time",
                            stats=[f"quantile:{','.join(map(str, Q))}"], threads=threads,
                            max_memory=cellq_memory)
            return ds["t2m_quantile"].values
    elif side == "cellq xarray":
        import dask
        import xarray as xr

        def call():
            with dask.config.set(scheduler="threads", num_workers=threads):
                t2m = xr.open_zarr(store)["t2m"].chunk({"time": -1})
                return t2m.quantile(Q, dim="time").values
    elif side == "cellq numpy":
        import zarr

        t0 = time.perf_counter()
        copy = zarr.open_array(os.path.join(store, "t2m"), mode="r")[...]
        extra["read_seconds"] = time.perf_counter() - t0

        def call():
            return np.nanquantile(copy, Q, axis=0, method="linear")
    elif side == "quant numpy":
        import zarr

        t0 = time.perf_counter()
        copy = zarr.open_array(os.path.join(store, "t2m"), mode="r")[...]
        extra["read_seconds"] = time.perf_counter() - t0

        def call():
            return np.nanquantile(copy, Q, method="linear")
    else:
        raise SystemExit(f"unknown side {side!r}")
    cpu0, t0 = _cpu(), time.perf_counter()
    result = call()
    seconds, cpu = time.perf_counter() - t0, _cpu() - cpu0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if isinstance(result, tuple):
        np.save(os.path.join(out, _file(side) + "_mean.npy"), result[0].astype("f8"))
        np.save(os.path.join(out, _file(side) + "_std.npy"), result[1].astype("f8"))
        value = None
    elif side.startswith("cellq"):
        np.save(os.path.join(out, _file(side) + ".npy"), result)
        value = None
    else:
        value = [float(x) for x in result]
    return {"side": side, "seconds": seconds, "cpu_seconds": cpu, "peak_rss_mib": rss,
            "result": value, **extra}


def drop_caches() -> bool:
    try:
        subprocess.run(["sync"], check=True)
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


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
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--data", default="data/bench")
    ap.add_argument("--which", default="2q")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--cold", action="store_true", help="drop the page cache before each side")
    ap.add_argument("--clim-max-memory", default="1GiB",
                    help="lsio's max_memory for the climatology run whole: its per-cell "
                         "accumulators (40 bytes a cell for mean and std: 9 x 720 x 1440 "
                         "cells on 2q) fit it")
    ap.add_argument("--clim-tiled-max-memory", default="120MiB",
                    help="lsio's max_memory for the climatology run in tiles")
    ap.add_argument("--cellq-max-memory", default="2GiB",
                    help="lsio's max_memory for the per-cell quantiles")
    ap.add_argument("--sides", default=",".join(SIDES),
                    help="comma-separated sides to run (default: all)")
    ap.add_argument("--markdown")
    ap.add_argument("--json")
    args = ap.parse_args()
    if args.side:
        print(json.dumps(run_side(args.side, args.store, args.threads, args.out,
                                  args.clim_max_memory, args.clim_tiled_max_memory,
                                  args.cellq_max_memory)))
        return 0

    import numpy as np

    sides = [s for s in SIDES if s in args.sides.split(",")]
    results = []
    ok = True
    for which in args.which.split(","):
        store = os.path.join(args.data, f"{which}.zarr")
        if not os.path.isdir(store):
            subprocess.run([sys.executable, "bench/make_dataset.py", "--which", which, "--out",
                            args.data], check=True)
        if not args.cold:
            warm(store)
        runs: dict[str, list[dict]] = {s: [] for s in sides}
        with tempfile.TemporaryDirectory(prefix="lsio-bench-reductions-") as out:
            for rnd in range(args.rounds):
                order = sides[rnd % len(sides):] + sides[:rnd % len(sides)]
                for side in order:
                    if args.cold:
                        drop_caches()
                    proc = subprocess.run(
                        [sys.executable, __file__, "--side", side, "--store", store,
                         "--threads", str(args.threads), "--out", out,
                         "--clim-max-memory", args.clim_max_memory,
                         "--clim-tiled-max-memory", args.clim_tiled_max_memory,
                         "--cellq-max-memory", args.cellq_max_memory],
                        capture_output=True, text=True)
                    if proc.returncode != 0:
                        print(proc.stderr, file=sys.stderr)
                        raise SystemExit(f"{side} failed on {store}")
                    r = json.loads(proc.stdout.strip().splitlines()[-1])
                    runs[side].append(r)
                    print(f"  {which} round {rnd + 1} {side:17s} {r['seconds']:7.2f} s  "
                          f"cpu {r['cpu_seconds']:6.2f} s  RSS {r['peak_rss_mib']:5.0f} MiB  "
                          f"{r['result'] if r['result'] is not None else ''}", flush=True)
            # Each lsio climatology against xarray's (when both ran).
            clim: dict = {}
            for lside in ("clim lsio", "clim lsio tiled"):
                if lside not in sides or "clim xarray+flox" not in sides:
                    continue
                clim[lside] = {}
                for stat in ("mean", "std"):
                    a = np.load(os.path.join(out, f"{_file(lside)}_{stat}.npy"))
                    b = np.load(os.path.join(out, f"clim_xarray_flox_{stat}.npy"))
                    scale = float(np.nanmax(np.abs(b)))
                    clim[lside][stat] = {
                        "shape_equal": a.shape == b.shape,
                        "max_abs_diff": float(np.nanmax(np.abs(a - b)))
                        if a.shape == b.shape else None,
                        "scale": scale,
                        "nan_equal": bool((np.isnan(a) == np.isnan(b)).all())
                        if a.shape == b.shape else False}
            # Per-cell quantiles against numpy's (exact: the same bits).
            cellq: dict = {}
            if "cellq numpy" in sides:
                ref = np.load(os.path.join(out, "cellq_numpy.npy"))
                for cside in ("cellq lsio", "cellq xarray"):
                    if cside in sides:
                        got = np.load(os.path.join(out, f"{_file(cside)}.npy"))
                        cellq[cside] = {
                            "exact": got.shape == ref.shape
                            and bool(np.array_equal(got, ref, equal_nan=True)),
                            "max_abs_diff": float(np.nanmax(np.abs(got - ref)))
                            if got.shape == ref.shape else None}
                ok = ok and cellq.get("cellq lsio", {"exact": True})["exact"]
        clim_agree = {lside: all(c["shape_equal"] and c["nan_equal"]
                                 and c["max_abs_diff"] <= 1e-5 * max(c["scale"], 1.0)
                                 for c in per.values())
                      for lside, per in clim.items()}
        ok = ok and all(clim_agree.values())
        med = {s: statistics.median(r["seconds"] for r in runs[s]) for s in sides}
        cpu = {s: statistics.median(r["cpu_seconds"] for r in runs[s]) for s in sides}
        rss = {s: max(r["peak_rss_mib"] for r in runs[s]) for s in sides}
        result = {"dataset": which, "median_seconds": med, "median_cpu_seconds": cpu,
                  "peak_rss_mib": rss, "runs": runs, "climatology": clim,
                  "climatology_agrees": clim_agree, "cell_quantiles": cellq}
        if all(s in sides for s in ("quant lsio", "quant numpy", "quant dask")):
            lsio_q = runs["quant lsio"][0]["result"]
            numpy_q = runs["quant numpy"][0]["result"]
            dask_q = runs["quant dask"][0]["result"]
            exact = lsio_q == numpy_q
            ok = ok and exact
            result.update({
                "quantiles": {"lsio": lsio_q, "numpy": numpy_q, "dask": dask_q},
                "quantiles_exact": exact,
                "numpy_read_seconds": runs["quant numpy"][0].get("read_seconds"),
                "quant_vs_dask": med["quant dask"] / med["quant lsio"],
                "quant_vs_numpy": med["quant numpy"] / med["quant lsio"]})
        results.append(result)

    lines = [f"climate reductions benchmark ({'cold' if args.cold else 'warm'} page cache, "
             f"{args.threads} threads, {args.rounds} round(s), medians; lsio climatology "
             f"max_memory {args.clim_max_memory}, in tiles {args.clim_tiled_max_memory}; "
             f"load average {os.getloadavg()[0]:.1f})", "",
             "| dataset | side | seconds | CPU s | peak RSS MiB |", "|---|---|---|---|---|"]
    for r in results:
        for s in sides:
            lines.append(f"| {r['dataset']} | {s} | {r['median_seconds'][s]:.2f} | "
                         f"{r['median_cpu_seconds'][s]:.2f} | {r['peak_rss_mib'][s]:.0f} |")
    if any(r["climatology"] for r in results):
        lines += ["", "| dataset | lsio side | vs xarray+flox (target 3x) | peak RSS (target <= "
                  "300 MiB) | agrees with xarray |", "|---|---|---|---|---|"]
        for r in results:
            c = r["median_cpu_seconds"]
            for lside, per in r["climatology"].items():
                lines.append(
                    f"| {r['dataset']} | {lside} | "
                    f"{r['median_seconds']['clim xarray+flox'] / r['median_seconds'][lside]:.2f}x "
                    f"({c['clim xarray+flox'] / c[lside]:.2f}x CPU) | "
                    f"{r['peak_rss_mib'][lside]:.0f} MiB | "
                    f"{'yes' if r['climatology_agrees'][lside] else 'NO'} "
                    f"(max diff mean {per['mean']['max_abs_diff']:.2g}, "
                    f"std {per['std']['max_abs_diff']:.2g}) |")
    if any("quantiles" in r for r in results):
        lines += ["", "| dataset | quantiles vs dask (target > 1x) | quantiles vs numpy in RAM | "
                  "quantiles exact | dask's relative error |", "|---|---|---|---|---|"]
        for r in results:
            if "quantiles" not in r:
                continue
            q = r["quantiles"]
            err = max(abs(d - n) / max(abs(n), 1e-30) for d, n in zip(q["dask"], q["numpy"]))
            c = r["median_cpu_seconds"]
            lines.append(
                f"| {r['dataset']} | "
                f"{r['quant_vs_dask']:.2f}x ({c['quant dask'] / c['quant lsio']:.2f}x CPU) | "
                f"{r['quant_vs_numpy']:.2f}x (numpy's read {r['numpy_read_seconds']:.1f} s "
                f"apart) | {'yes' if r['quantiles_exact'] else 'NO'} {q['lsio']} | {err:.2g} |")
    if any(r["cell_quantiles"] for r in results):
        lines += ["", "| dataset | side | vs xarray (dask) | vs numpy in RAM | equal to numpy |",
                  "|---|---|---|---|---|"]
        for r in results:
            m, c = r["median_seconds"], r["median_cpu_seconds"]
            for cside, v in r["cell_quantiles"].items():
                vs_x = (f"{m['cellq xarray'] / m[cside]:.2f}x "
                        f"({c['cellq xarray'] / c[cside]:.2f}x CPU)"
                        if "cellq xarray" in m else "-")
                read = r["runs"]["cellq numpy"][0].get("read_seconds", 0)
                lines.append(
                    f"| {r['dataset']} | {cside} | {vs_x} | "
                    f"{m['cellq numpy'] / m[cside]:.2f}x (numpy's read {read:.1f} s apart) | "
                    f"{'yes' if v['exact'] else 'no'} (max diff {v['max_abs_diff']:.2g}) |")
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text + "\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
