#!/usr/bin/env python3
"""Rechunk benchmark: `lsio rechunk` against dask (`da.from_zarr(...).rechunk(...).to_zarr`,
threaded scheduler) and Cubed (`cubed.from_zarr(...).rechunk(...)` + `cubed.to_zarr`, same
allowed_mem as lsio's --max-memory), on one generated dataset. (pangeo rechunker is not here:
it needs zarr-python < 3, which this project's environment does not have.)

The dataset is float32 (T, Y, X) in time chunks (default 8 x Y x X, Zarr v3, blosc zstd:5
shuffle), rechunked to time-series chunks (default T x 32 x 32). Each side runs in its own
process; its peak RSS is that process's ru_maxrss (os.wait4), its time the wall time of the
process. Every output is checked equal to the input (bit for bit) with zarr-python. Ratios are
against lsio in the same run; the page cache is warm for every side (the input is read once
before the first side), so the numbers compare CPU and write paths, not disk reads.

    .venv/bin/python bench/rechunk/run.py --shape=256,512,512 --dst-chunks=-1,32,32
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def parse_size(text: str) -> int:
    t = text.strip().lower().replace("ib", "").replace("b", "")
    scale = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}.get(t[-1:], 1)
    return int(float(t.rstrip("kmg")) * scale)


def make_dataset(path: str, shape, chunks) -> None:
    import numpy as np
    import zarr
    from zarr.codecs import BloscCodec, BloscShuffle

    if os.path.exists(os.path.join(path, "zarr.json")):
        return
    shutil.rmtree(path, ignore_errors=True)
    g = zarr.open_group(path, mode="w", zarr_format=3)
    a = g.create_array("t2m", shape=shape, dtype="float32", chunks=chunks, fill_value=float("nan"),
                       dimension_names=["time", "y", "x"],
                       compressors=[BloscCodec(cname="zstd", clevel=5,
                                               shuffle=BloscShuffle.shuffle)])
    a.attrs["units"] = "K"
    rng = np.random.default_rng(0)
    y = np.linspace(0, 3, shape[1], dtype="float32")[:, None]
    x = np.linspace(0, 5, shape[2], dtype="float32")[None, :]
    base = 280 + 10 * np.sin(y) * np.cos(x)
    for t0 in range(0, shape[0], chunks[0]):
        n = min(chunks[0], shape[0] - t0)
        a[t0:t0 + n] = (base[None] + rng.standard_normal((n, shape[1], shape[2]))
                        .astype("float32"))


# --- the sides, each run as `run.py --side NAME ...` in its own process ---

def side_dask(src, dst, chunks, max_mem, threads):
    import dask
    import dask.array as da

    with dask.config.set(scheduler="threads", num_workers=threads):
        arr = da.from_zarr(src, component="t2m")
        arr.rechunk(chunks).to_zarr(dst, component="t2m", overwrite=True)


def side_cubed(src, dst, chunks, max_mem, threads):
    import cubed

    work = dst + ".cubed-work"
    spec = cubed.Spec(work_dir=work, allowed_mem=max_mem)
    arr = cubed.from_zarr(src, path="t2m", spec=spec)
    cubed.to_zarr(arr.rechunk(chunks), dst, path="t2m", executor=_cubed_executor(threads))
    shutil.rmtree(work, ignore_errors=True)


def _cubed_executor(threads):
    from cubed.runtime.executors.local import ThreadsExecutor

    return ThreadsExecutor(max_workers=threads)


SIDES = {"dask": side_dask, "cubed": side_cubed}


# A lean launcher measures the side: a child's ru_maxrss starts from its parent's resident size
# at fork (kept across exec), so the side must not be forked from this process, which holds
# numpy, zarr and page-cache reads.
LAUNCHER = """
import os, sys, json, time
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, ru = os.wait4(pid, 0)
print(json.dumps({"code": os.waitstatus_to_exitcode(status), "seconds": time.perf_counter() - start,
                  "peak_rss": ru.ru_maxrss * 1024, "cpu_seconds": ru.ru_utime + ru.ru_stime}),
      file=sys.stderr)
"""


def run_process(argv) -> dict:
    proc = subprocess.run([sys.executable, "-S", "-c", LAUNCHER, *argv], capture_output=True,
                          text=True)
    lines = proc.stderr.strip().splitlines()
    m = json.loads(lines[-1])
    err = "\n".join(lines[:-1]) or proc.stdout
    return {"ok": m["code"] == 0, "seconds": m["seconds"], "peak_rss": m["peak_rss"],
            "cpu_seconds": m["cpu_seconds"],
            "error": None if m["code"] == 0 else err.strip()[-800:]}


def check_equal(src: str, dst: str, path: str) -> str:
    import numpy as np
    import zarr

    a = zarr.open_group(src, mode="r")["t2m"]
    try:
        b = zarr.open(dst, mode="r")
        b = b[path] if path else b
    except Exception as e:  # a peer's output zarr-python cannot open
        return f"cannot open: {e}"
    step = a.chunks[0] * 8
    for t in range(0, a.shape[0], step):
        x, y = a[t:t + step], b[t:t + step]
        if x.tobytes() != np.asarray(y).tobytes():
            return "DIFFERENT"
    return "identical"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lsio", default=os.path.join(ROOT, "build", "bin", "lsio"))
    ap.add_argument("--data", default=os.path.join(ROOT, "data", "bench-rechunk"))
    ap.add_argument("--shape", default="256,512,512")
    ap.add_argument("--src-chunks", default="8,-1,-1")
    ap.add_argument("--dst-chunks", default="-1,32,32")
    ap.add_argument("--max-memory", default="256MiB")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--peers", default="dask,cubed")
    ap.add_argument("--markdown")
    ap.add_argument("--json")
    ap.add_argument("--side", help=argparse.SUPPRESS)
    ap.add_argument("--src", help=argparse.SUPPRESS)
    ap.add_argument("--dst", help=argparse.SUPPRESS)
    args = ap.parse_args()

    shape = [int(x) for x in args.shape.split(",")]
    src_chunks = [s if int(c) == -1 else int(c) for c, s in zip(args.src_chunks.split(","), shape)]
    dst_chunks = [s if int(c) == -1 else int(c) for c, s in zip(args.dst_chunks.split(","), shape)]
    max_mem = parse_size(args.max_memory)
    if args.side:
        SIDES[args.side](args.src, args.dst, tuple(dst_chunks), max_mem, args.threads)
        return 0

    os.makedirs(args.data, exist_ok=True)
    src = os.path.join(args.data, "src_{}.zarr".format("x".join(map(str, shape))))
    make_dataset(src, shape, src_chunks)
    nbytes = 4 * shape[0] * shape[1] * shape[2]
    # Warm the page cache for everyone alike.
    for root, _, files in os.walk(src):
        for f in files:
            with open(os.path.join(root, f), "rb") as fh:
                while fh.read(1 << 24):
                    pass
    results = []
    dims = ["time", "y", "x"]
    lsio_chunks = ",".join(f"{d}={c}" for d, c in zip(dims, dst_chunks))
    sides = [("lsio", [args.lsio, "rechunk", src, None, "--chunks", lsio_chunks, "--codec",
                       "blosc:zstd:5:shuffle", "--max-memory", args.max_memory, "--threads",
                       str(args.threads), "--quiet"], "t2m")]
    me = [sys.executable, os.path.abspath(__file__), f"--shape={args.shape}",
          f"--src-chunks={args.src_chunks}", f"--dst-chunks={args.dst_chunks}",
          f"--max-memory={args.max_memory}", f"--threads={args.threads}"]
    for peer in [p for p in args.peers.split(",") if p]:
        sides.append((peer, [*me, f"--side={peer}", f"--src={src}", "--dst", None], "t2m"))
    for name, argv, path in sides:
        dst = os.path.join(args.data, f"out_{name}.zarr")
        shutil.rmtree(dst, ignore_errors=True)
        argv = [dst if a is None else a for a in argv]
        r = run_process(argv)
        r["side"] = name
        r["check"] = check_equal(src, dst, path) if r["ok"] else "failed"
        r["gb_per_s"] = nbytes / 1e9 / r["seconds"]
        results.append(r)
        print(f"{name}: {r['seconds']:.2f} s, peak RSS {r['peak_rss'] / 2**20:.0f} MiB, "
              f"{r['check']}" + (f" ({r['error']})" if r["error"] else ""), file=sys.stderr)
        shutil.rmtree(dst, ignore_errors=True)
    ref = results[0]
    lines = [f"Rechunk {args.shape} float32 ({nbytes / 2**20:.0f} MiB) chunks "
             f"{'x'.join(map(str, src_chunks))} -> {'x'.join(map(str, dst_chunks))}, "
             f"--max-memory {args.max_memory}, {args.threads} threads, warm cache",
             "",
             "| side | seconds | GB/s | peak RSS MiB | CPU s | time vs lsio | output |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for r in results:
        ratio = r["seconds"] / ref["seconds"] if ref["ok"] and r["ok"] else float("nan")
        lines.append(f"| {r['side']} | {r['seconds']:.2f} | {r['gb_per_s']:.3f} | "
                     f"{r['peak_rss'] / 2**20:.0f} | {r['cpu_seconds']:.1f} | {ratio:.2f}x | "
                     f"{r['check']} |")
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text + "\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0 if all(r["check"] == "identical" for r in results if r["ok"]) else 1


if __name__ == "__main__":
    sys.exit(main())
