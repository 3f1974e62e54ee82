#!/usr/bin/env python3
"""xarray and dask through lsio against xr.open_zarr (issue 13).

For each dataset of the stats benchmark (bench/make_dataset.py: 1 uncompressed, 2 blosc-zstd,
3 64 KiB chunks, 4 v3 sharded; or their quarter-size variants 1q..4q) and each workflow of
bench/xarray/workload.py, runs open_zarr (its default chunks) and the lsio engine
(chunks={}) each in its own process under /usr/bin/time -v, with the page cache warm (the
dataset read once before) and then cold (dropped before each side; needs root), and reports
seconds, the lsio / open_zarr speed-up, peak RSS, and whether the results agree (1e-6 relative).

    bench/xarray/run.py --data data/bench --which 1,2,3,4 --markdown out.md --json out.json

The machine this runs on is usually shared: every ratio compares two runs made one after the
other in the same conditions, and the load average is recorded with each run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
PY = sys.executable
WORKLOAD = os.path.join(HERE, "workload.py")
WORKFLOWS = ("mean", "isel", "groupby", "points", "windows", "points-array", "windows-array")
DASK = ("mean", "isel", "groupby")
TARGET_DASK = 1.5
TARGET_SMALL = 5.0

LABELS = {
    "mean": "`ds[v].mean()`",
    "isel": "`ds[v].isel(time=slice(0, N//4)).mean(\"time\")`",
    "groupby": "`ds[v].groupby(\"time.month\").mean()`",
    "points": "1,000 single elements (xarray, no dask)",
    "windows": "1,000 64x64 windows (xarray, no dask)",
    "points-array": "1,000 single elements (array objects)",
    "windows-array": "1,000 64x64 windows (array objects)",
}


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def drop_caches() -> bool:
    subprocess.run(["sync"], check=True)
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def warm(store: str) -> None:
    """Reads every file of the store once (into the page cache)."""
    for root, _, files in os.walk(store):
        for f in files:
            with open(os.path.join(root, f), "rb") as fh:
                while fh.read(16 << 20):
                    pass


def run_side(store: str, engine: str, workflow: str, out: str, cold: bool) -> dict:
    if cold:
        drop_caches()
    load = os.getloadavg()[0]
    argv = ["/usr/bin/time", "-v", PY, WORKLOAD, store, "--engine", engine, "--workflow",
            workflow, "--out", out]
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.splitlines()[-20:])
        raise RuntimeError(f"{engine} {workflow} on {store} failed:\n{tail}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    for line in proc.stderr.splitlines():
        key, _, value = line.strip().partition(": ")
        if key == "Maximum resident set size (kbytes)":
            res["rss_mib"] = float(value) / 1024
        elif key == "User time (seconds)":
            res["user_s"] = float(value)
        elif key == "System time (seconds)":
            res["sys_s"] = float(value)
    res.update(wall_s=wall, load=load)
    return res


def agree(a: str, b: str) -> tuple[bool, str]:
    """Equal to 1e-6 relative to the result's scale (its largest magnitude): a float32 mean
    summed in another order (other dask chunks) differs in its last bits, and elementwise
    relative error is meaningless for means near 0."""
    x, y = np.load(a), np.load(b)
    if x.shape != y.shape:
        return False, f"shapes {x.shape} vs {y.shape}"
    if np.array_equal(x, y, equal_nan=True):
        return True, "equal"
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    if not np.array_equal(np.isnan(x64), np.isnan(y64)):
        return False, "NaN in different places"
    scale = float(np.nanmax(np.abs(x64))) if x64.size else 0.0
    d = float(np.nanmax(np.abs(x64 - y64)))
    rel = d / scale if scale else d
    return rel <= 1e-6, f"within {rel:.1e} of scale" if rel <= 1e-6 else f"differ: {rel:.1e}"


def run(args) -> dict:
    results = {"machine": {"cores": os.cpu_count(), "load_start": os.getloadavg()[0]},
               "datasets": []}
    workflows = args.workflows.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        for which in args.which.split(","):
            store = os.path.join(args.data, f"{which}.zarr")
            if not os.path.isdir(store):
                raise SystemExit(f"{store}: missing (bench/make_dataset.py --which {which})")
            entry = {"name": which, "store": store, "runs": []}
            results["datasets"].append(entry)
            for cache in args.caches.split(","):
                cold = cache == "cold"
                if not cold:
                    warm(store)
                for wf in workflows:
                    sides = {}
                    for engine in ("zarr", "lsio"):
                        out = os.path.join(tmp, f"{which}-{wf}-{engine}.npy")
                        sides[engine] = run_side(store, engine, wf, out, cold)
                        sides[engine]["out"] = out
                    ok, why = agree(sides["zarr"]["out"], sides["lsio"]["out"])
                    z, l = sides["zarr"], sides["lsio"]
                    speedup = z["seconds"] / l["seconds"]
                    run_ = {"cache": cache, "workflow": wf, "zarr": z, "lsio": l,
                            "speedup": speedup, "agree": ok, "check": why}
                    entry["runs"].append(run_)
                    log(f"{which:>3} {cache:4} {wf:14} open_zarr {z['seconds']:7.2f} s "
                        f"{z['rss_mib']:6.0f} MiB | lsio {l['seconds']:7.2f} s "
                        f"{l['rss_mib']:6.0f} MiB | x{speedup:5.2f} | {why} | load {l['load']:.1f}")
    results["machine"]["load_end"] = os.getloadavg()[0]
    return results


def markdown(res: dict) -> str:
    lines = [f"Machine: {res['machine']['cores']} cores, load average "
             f"{res['machine']['load_start']:.1f} at the start and "
             f"{res['machine']['load_end']:.1f} at the end. Seconds are open + compute in the "
             "side's own process (dask's default threaded scheduler for the dask workflows); "
             "RSS is the process's peak.", "",
             "| dataset | cache | workflow | open_zarr s | lsio s | lsio ÷ open_zarr | "
             "open_zarr RSS | lsio RSS | results |",
             "|---|---|---|---:|---:|---:|---:|---:|---|"]
    for d in res["datasets"]:
        for r in d["runs"]:
            target = TARGET_DASK if r["workflow"] in DASK else TARGET_SMALL
            mark = "" if r["speedup"] >= target else " (below target)"
            lines.append(f"| {d['name']} | {r['cache']} | {LABELS[r['workflow']]} | "
                         f"{r['zarr']['seconds']:.2f} | {r['lsio']['seconds']:.2f} | "
                         f"**{r['speedup']:.2f}x**{mark} | {r['zarr']['rss_mib']:.0f} MiB | "
                         f"{r['lsio']['rss_mib']:.0f} MiB | {r['check']} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="data/bench")
    ap.add_argument("--which", default="1,2,3,4")
    ap.add_argument("--workflows", default=",".join(WORKFLOWS))
    ap.add_argument("--caches", default="warm,cold")
    ap.add_argument("--markdown")
    ap.add_argument("--json")
    args = ap.parse_args()
    res = run(args)
    md = markdown(res)
    print(md)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(md)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1, default=str)
    bad = [(d["name"], r["workflow"], r["cache"]) for d in res["datasets"] for r in d["runs"]
           if not r["agree"]]
    if bad:
        log(f"results differ from open_zarr's: {bad}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
