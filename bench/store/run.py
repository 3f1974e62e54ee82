#!/usr/bin/env python3
"""lsio.store benchmark: many byte ranges from many files, from Python, against the other ways
Python code reads them.

Workloads (64 files of 64 MiB of random bytes, 4 GiB, in data/bench-store, written once):
  64k: 10,000 random 64 KiB ranges (distinct 64 KiB-aligned slots, so no range is read twice)
  4m:   1,000 random 4 MiB ranges (distinct 4 MiB-aligned slots)
Every side gets the whole request list at once and returns every range's bytes:
  lsio           lsio.store.open(dir).get_ranges(keys, starts, ends): one call
  lsio-paths     lsio.read_ranges([(path, start, end), ...]): one call
  obstore        obstore.get_ranges_async per file, the 64 calls gathered by asyncio (obstore's
                 own parallelism; default coalescing)
  obstore-sync   obstore.get_ranges per file, one file after the other (the obvious use)
  fsspec         fsspec.filesystem("file").cat_ranges(paths, starts, ends)
  pread-pool     concurrent.futures.ThreadPoolExecutor(32) of os.pread, files opened once
  pread-serial   a plain loop of os.pread
Each side runs in its own process (CPU seconds: user + sys of all its threads during the call,
from getrusage; peak RSS of the process), with the page cache
of the 64 files dropped before it (posix_fadvise DONTNEED: no root needed, and the rest of the
machine's cache is left alone; --warm keeps it). Sides take turns within each round; times are
medians over rounds, ratios the medians of per-round ratios. Every side's results are checked
(CRC-32 of all bytes in request order) against the serial pread loop's.

Usage: bench/store/run.py [--rounds 3] [--only 64k,4m] [--sides lsio,obstore,...] [--warm]
                          [--markdown FILE] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "data", "bench-store")
KiB, MiB = 1 << 10, 1 << 20
FILES, FILE_SIZE = 64, 64 * MiB
WORKLOADS = {
    "64k": dict(n=10_000, size=64 * KiB, desc="10,000 random 64 KiB ranges over 64 files"),
    "4m": dict(n=1_000, size=4 * MiB, desc="1,000 random 4 MiB ranges over 64 files"),
}
SIDES = ["lsio", "lsio-paths", "obstore", "obstore-sync", "fsspec", "pread-pool", "pread-serial"]
REFERENCE = "pread-serial"


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def names():
    return ["f%02d" % i for i in range(FILES)]


def ensure_data(data):
    marker = os.path.join(data, ".complete")
    if os.path.exists(marker):
        return
    log(f"writing {FILES} x {FILE_SIZE // MiB} MiB under {data} (once)")
    os.makedirs(data, exist_ok=True)
    import numpy as np

    rng = np.random.default_rng(0)
    for n in names():
        with open(os.path.join(data, n), "wb") as f:
            for _ in range(FILE_SIZE // (8 * MiB)):
                f.write(rng.integers(0, 256, 8 * MiB, dtype=np.uint8).tobytes())
    os.sync()
    with open(marker, "w") as f:
        f.write("ok\n")


def requests(workload, seed=42):
    """(file name, start, end) in a random order; distinct aligned slots."""
    w = WORKLOADS[workload]
    per_file = FILE_SIZE // w["size"]
    slots = random.Random(seed).sample(range(FILES * per_file), w["n"])
    out = []
    for s in slots:
        f, i = divmod(s, per_file)
        out.append(("f%02d" % f, i * w["size"], (i + 1) * w["size"]))
    return out


def drop_cache(data):
    for n in names():
        fd = os.open(os.path.join(data, n), os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


# --------------------------------------------------------------------------------------------
# Sides (run in a child process: `run.py --side NAME --workload W --data DIR`)


def side_lsio(data, reqs):
    import lsio.store

    s = lsio.store.open(data)
    return s.get_ranges([k for k, _, _ in reqs], [a for _, a, _ in reqs], [b for _, _, b in reqs])


def side_lsio_paths(data, reqs):
    import lsio

    return lsio.read_ranges([(os.path.join(data, k), a, b) for k, a, b in reqs])


def _by_file(reqs):
    by = {}
    for i, (k, a, b) in enumerate(reqs):
        by.setdefault(k, []).append((i, a, b))
    return by


def side_obstore(data, reqs):
    import asyncio

    import obstore
    from obstore.store import LocalStore

    store = LocalStore(data)
    out = [None] * len(reqs)

    async def one(k, items):
        parts = await obstore.get_ranges_async(store, k, starts=[a for _, a, _ in items],
                                               ends=[b for _, _, b in items])
        for (i, _, _), p in zip(items, parts):
            out[i] = p

    async def main():
        await asyncio.gather(*(one(k, items) for k, items in _by_file(reqs).items()))

    asyncio.run(main())
    return out


def side_obstore_sync(data, reqs):
    import obstore
    from obstore.store import LocalStore

    store = LocalStore(data)
    out = [None] * len(reqs)
    for k, items in _by_file(reqs).items():
        parts = obstore.get_ranges(store, k, starts=[a for _, a, _ in items],
                                   ends=[b for _, _, b in items])
        for (i, _, _), p in zip(items, parts):
            out[i] = p
    return out


def side_fsspec(data, reqs):
    import fsspec

    fs = fsspec.filesystem("file")
    return fs.cat_ranges([os.path.join(data, k) for k, _, _ in reqs], [a for _, a, _ in reqs],
                         [b for _, _, b in reqs])


def _fds(data):
    return {n: os.open(os.path.join(data, n), os.O_RDONLY) for n in names()}


def side_pread_pool(data, reqs):
    from concurrent.futures import ThreadPoolExecutor

    fds = _fds(data)
    with ThreadPoolExecutor(32) as pool:
        return list(pool.map(lambda r: os.pread(fds[r[0]], r[2] - r[1], r[1]), reqs))


def side_pread_serial(data, reqs):
    fds = _fds(data)
    return [os.pread(fds[k], b - a, a) for k, a, b in reqs]


def run_side(name, workload, data):
    reqs = requests(workload)
    fn = globals()["side_" + name.replace("-", "_")]
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t = time.perf_counter()
    got = fn(data, reqs)
    seconds = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    peak = r1.ru_maxrss * 1024
    crc = 0
    total = 0
    for g in got:
        crc = zlib.crc32(g, crc)
        total += len(g)
    print(json.dumps(dict(seconds=seconds, cpu=cpu, peak_rss=peak, bytes=total, crc=crc,
                          n=len(got))))


# --------------------------------------------------------------------------------------------
# Driver


def measure(name, workload, data):
    cmd = [sys.executable, os.path.abspath(__file__), "--side", name, "--workload", workload,
           "--data", data]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"side {name} ({workload}) failed: {proc.stderr}")
    return json.loads(proc.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--side")
    ap.add_argument("--workload", default="64k")
    ap.add_argument("--data", default=DATA)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", default="64k,4m")
    ap.add_argument("--sides", default=",".join(SIDES))
    ap.add_argument("--warm", action="store_true", help="keep the page cache")
    ap.add_argument("--markdown")
    ap.add_argument("--json")
    args = ap.parse_args()
    if args.side:
        run_side(args.side, args.workload, args.data)
        return
    ensure_data(args.data)
    sides = args.sides.split(",")
    if REFERENCE not in sides:
        sides.append(REFERENCE)
    log(f"machine: {os.cpu_count()} cores, load average "
        f"{' '.join(open('/proc/loadavg').read().split()[:3])}; "
        f"{'warm' if args.warm else 'cold (fadvise DONTNEED per file)'} cache")
    results = {}
    for wl in args.only.split(","):
        runs = {s: [] for s in sides}
        for rnd in range(args.rounds):
            order = sides[rnd % len(sides):] + sides[:rnd % len(sides)]
            for s in order:
                if not args.warm:
                    drop_cache(args.data)
                r = measure(s, wl, args.data)
                runs[s].append(r)
                log(f"  {wl} round {rnd + 1} {s:13s} {r['seconds']:7.3f} s  cpu {r['cpu']:6.2f} s"
                    f"  {r['bytes'] / r['seconds'] / 1e9:6.2f} GB/s")
        ref_crc = runs[REFERENCE][0]["crc"]
        for s in sides:
            for r in runs[s]:
                if r["crc"] != ref_crc or r["n"] != WORKLOADS[wl]["n"]:
                    raise RuntimeError(f"{s} returned other bytes than {REFERENCE} ({wl})")
        results[wl] = runs
    table = render(results, sides, args.warm)
    print(table)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table + "\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


def render(results, sides, warm):
    lines = [f"lsio.store vs Python peers, {'warm' if warm else 'cold'} page cache "
             f"(median seconds; ratio = peer time / lsio time, median of per-round ratios; "
             f"results equal: CRC-32 over all bytes)", ""]
    for wl, runs in results.items():
        lines.append(f"### {WORKLOADS[wl]['desc']}")
        lines.append("")
        lines.append("| side | seconds | GB/s | CPU s | peak RSS MiB | lsio faster by |")
        lines.append("|---|---:|---:|---:|---:|---:|")
        for s in sides:
            sec = statistics.median(r["seconds"] for r in runs[s])
            cpu = statistics.median(r["cpu"] for r in runs[s])
            gbs = runs[s][0]["bytes"] / sec / 1e9
            ratio = statistics.median(p["seconds"] / q["seconds"]
                                      for p, q in zip(runs[s], runs["lsio"])) if "lsio" in runs \
                else float("nan")
            rss = statistics.median(r["peak_rss"] for r in runs[s]) / MiB
            lines.append(f"| {s} | {sec:.3f} | {gbs:.2f} | {cpu:.2f} | {rss:.0f} | "
                         f"{ratio:.2f}x |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
