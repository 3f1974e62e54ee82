#!/usr/bin/env python3
"""IO benchmark: `lsio read` against fio (io_uring, O_DIRECT) and obstore's LocalStore.

One command runs all three workloads, each side with a cold page cache:
  (a) 64 files of 64 MiB, read in 1 MiB blocks
  (b) 16,384 files of 64 KiB, read whole (64 KiB blocks)
  (c) random 4 KiB reads over one 4 GiB file

Sides: lsio with the io_uring backend, lsio with the pread backend, fio --ioengine=io_uring
--direct=1 (same files, block size and queue depth), and obstore.store.LocalStore driven by
asyncio with the same number of requests in flight. CPU seconds are user + sys of the side's
process (wait4 rusage), divided by the GB it read.

Rates use each tool's own clock: fio's runtime leaves out its set-up (opening every file,
allocating buffers), lsio's includes walking the directory, stat and open. "lsio/fio, wall"
compares the wall time of the two processes instead (start-up included for both). The machine
is shared and noisy: the sides take turns within each round, rates are medians over rounds and
ratios are medians of the ratio within a round.

Data lives in data/bench-io (git-ignored), written once and reused. Dropping the page cache
needs root (we are root here); without it the numbers are warm-cache and the table says so.

Usage: bench/io/run.py [--lsio build/bin/lsio] [--only a,b,c] [--random-reads N]
                       [--repeat N] [--markdown FILE]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "data", "bench-io")
MiB = 1 << 20
KiB = 1 << 10

WORKLOADS = {
    "a": dict(desc="64 files x 64 MiB, 1 MiB blocks", dir="a", files=64, size=64 * MiB,
              block=MiB),
    "b": dict(desc="16,384 files x 64 KiB, whole files", dir="b", files=16384, size=64 * KiB,
              block=64 * KiB),
    "c": dict(desc="4 KiB random reads, one 4 GiB file", dir="c", files=1, size=4096 * MiB,
              block=4 * KiB),
}
QUEUE_DEPTH = 64


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Data


def file_paths(w):
    d = os.path.join(DATA, w["dir"])
    if w["files"] == 1:
        return [os.path.join(d, "big")]
    return [os.path.join(d, "f%05d" % i) for i in range(w["files"])]


def ensure_data(name):
    w = WORKLOADS[name]
    d = os.path.join(DATA, w["dir"])
    # Beside the directory, not in it: lsio and fio read every file of the directory.
    marker = os.path.join(DATA, f".{w['dir']}.complete")
    if os.path.exists(marker):
        return
    log(f"writing benchmark data for ({name}) under {d} (once)")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    chunk = min(w["size"], 8 * MiB)
    for p in file_paths(w):
        with open(p, "wb") as f:
            left = w["size"]
            while left > 0:
                # Random bytes: nothing below us can compress or deduplicate them.
                n = min(chunk, left)
                f.write(os.urandom(n))
                left -= n
    os.sync()
    with open(marker, "w") as f:
        f.write("ok\n")


def data_dir(name):
    return os.path.join(DATA, WORKLOADS[name]["dir"])


# --------------------------------------------------------------------------------------------
# Measurement


def drop_caches():
    try:
        subprocess.run(["sync"], check=True)
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def run_measured(cmd, env=None):
    """Runs cmd, returns (stdout, wall seconds, cpu seconds of the child)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            text=True)
    # wait4 gives this child's own rusage (RUSAGE_CHILDREN would sum over all children).
    out_chunks = []
    err_chunks = []
    out, err = proc.stdout, proc.stderr
    # Read both pipes to the end before reaping; outputs are small.
    out_chunks.append(out.read())
    err_chunks.append(err.read())
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {''.join(err_chunks)}")
    return "".join(out_chunks), wall, ru.ru_utime + ru.ru_stime


def lsio_side(lsio, name, backend, random_reads):
    w = WORKLOADS[name]
    cmd = [lsio, "read", data_dir(name), "--json", "--queue-depth", str(QUEUE_DEPTH),
           "--io", backend]
    if backend == "posix":
        # The same number of reads in flight as the ring: one blocking worker per slot.
        cmd += ["--threads", str(QUEUE_DEPTH)]
    if name == "c":
        cmd += ["--random", str(random_reads), "--block", str(w["block"])]
    elif name == "a":
        cmd += ["--block", str(w["block"])]
    # (b): one whole-file request per 64 KiB file (the block is the file).
    out, wall, cpu = run_measured(cmd)
    j = json.loads(out)
    return dict(bytes=j["bytes"], seconds=j["seconds"], ios=j["reads"], cpu=cpu, wall=wall)


def fio_side(name, random_reads):
    w = WORKLOADS[name]
    cmd = ["fio", "--output-format=json", "--name=bench", "--ioengine=io_uring", "--direct=1",
           f"--iodepth={QUEUE_DEPTH}", f"--bs={w['block']}", "--numjobs=1", "--thread",
           "--invalidate=1"]
    if name == "c":
        cmd += ["--rw=randread", f"--filename={file_paths(w)[0]}", f"--size={w['size']}",
                f"--number_ios={random_reads}", "--randrepeat=0", "--norandommap"]
    else:
        # Every file of the directory, each read once, sequentially, iodepth reads in flight.
        cmd += ["--rw=read", f"--opendir={data_dir(name)}", "--file_service_type=sequential"]
    out, wall, cpu = run_measured(cmd)
    j = json.loads(out[out.index("{"):])
    r = j["jobs"][0]["read"]
    seconds = r["runtime"] / 1000.0
    return dict(bytes=r["io_bytes"], seconds=seconds, ios=r["total_ios"], cpu=cpu, wall=wall)


OBSTORE_SCRIPT = r"""
import asyncio, json, os, random, sys, time
import obstore
from obstore.store import LocalStore

name, root, block, depth, nreads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
store = LocalStore(root)
files = sorted(f for f in os.listdir(root) if not f.startswith("."))

async def main():
    sem = asyncio.Semaphore(depth)
    total = 0
    ios = 0
    if name == "a":
        # Each file as 1 MiB ranges, as many files at once as there are reads in flight.
        async def one(f):
            nonlocal total, ios
            size = os.path.getsize(os.path.join(root, f))
            starts = list(range(0, size, block))
            async with sem:
                parts = await obstore.get_ranges_async(store, f, starts=starts,
                                                       lengths=[block] * len(starts))
            total += sum(len(p) for p in parts)
            ios += len(parts)
        await asyncio.gather(*(one(f) for f in files))
    elif name == "b":
        async def one(f):
            nonlocal total, ios
            async with sem:
                r = await obstore.get_async(store, f)
                b = await r.bytes_async()
            total += len(b)
            ios += 1
        await asyncio.gather(*(one(f) for f in files))
    else:
        f = files[0]
        size = os.path.getsize(os.path.join(root, f))
        rng = random.Random(42)
        offsets = [rng.randrange(size // block) * block for _ in range(nreads)]
        # depth concurrent get_ranges calls, each reading its share of the offsets.
        shares = [offsets[i::depth] for i in range(depth)]
        async def one(share):
            nonlocal total, ios
            parts = await obstore.get_ranges_async(store, f, starts=share,
                                                   lengths=[block] * len(share), coalesce=0)
            total += sum(len(p) for p in parts)
            ios += len(parts)
        await asyncio.gather(*(one(s) for s in shares if s))
    return total, ios

t = time.perf_counter()
total, ios = asyncio.run(main())
print(json.dumps(dict(bytes=total, ios=ios, seconds=time.perf_counter() - t)))
"""


def obstore_side(name, random_reads):
    w = WORKLOADS[name]
    py = os.path.join(ROOT, ".venv", "bin", "python")
    if not os.path.exists(py):
        py = sys.executable
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(OBSTORE_SCRIPT)
        script = f.name
    try:
        out, wall, cpu = run_measured([py, script, name, data_dir(name), str(w["block"]),
                                       str(QUEUE_DEPTH), str(random_reads)])
    finally:
        os.unlink(script)
    j = json.loads(out)
    return dict(bytes=j["bytes"], seconds=j["seconds"], ios=j["ios"], cpu=cpu, wall=wall)


# --------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--lsio", default=os.path.join(ROOT, "build", "bin", "lsio"))
    ap.add_argument("--only", default="a,b,c")
    ap.add_argument("--random-reads", type=int, default=200000)
    ap.add_argument("--repeat", type=int, default=3,
                    help="rounds (each side once per round); medians are shown")
    ap.add_argument("--sides", default="lsio,posix,fio,obstore")
    ap.add_argument("--markdown", help="also write the table to this file")
    args = ap.parse_args()
    if not os.path.exists(args.lsio):
        sys.exit(f"{args.lsio} does not exist: build first (make build)")
    names = [n for n in args.only.split(",") if n]
    sides = args.sides.split(",")
    for n in names:
        ensure_data(n)

    cold = True
    runs = {}
    for n in names:
        # Sides take turns within each round, so that noise from other work on the machine
        # (it is shared) spreads over all of them instead of hitting one side's runs.
        for rep in range(args.repeat):
            for side in sides:
                cold &= drop_caches()
                if side == "lsio":
                    r = lsio_side(args.lsio, n, "uring", args.random_reads)
                elif side == "posix":
                    r = lsio_side(args.lsio, n, "posix", args.random_reads)
                elif side == "fio":
                    r = fio_side(n, args.random_reads)
                else:
                    r = obstore_side(n, args.random_reads // 4)
                runs.setdefault((n, side), []).append(r)
                log(f"({n}) round {rep + 1} {side:8s} {r['bytes'] / 1e9:.3f} GB in "
                    f"{r['seconds']:.3f} s (wall {r['wall']:.3f} s), {r['ios']} reads, "
                    f"cpu {r['cpu']:.2f} s")

    def value(n, r, wall=False):
        seconds = r["wall"] if wall else r["seconds"]
        return r["ios"] / seconds if n == "c" else r["bytes"] / 1e9 / seconds

    results = {}
    for key, rs in runs.items():
        results[key] = sorted(rs, key=lambda r: value(key[0], r))[len(rs) // 2]

    def ratio(n, wall):
        # Median over rounds of the ratio within a round (both sides saw the same machine).
        a, b = runs.get((n, "lsio")), runs.get((n, "fio"))
        if not a or not b:
            return "-"
        rs = sorted(value(n, x, wall) / value(n, y, wall) for x, y in zip(a, b))
        return f"{rs[len(rs) // 2]:.2f}x"

    def rate(n, side):
        r = results.get((n, side))
        return None if r is None else value(n, r)

    def fmt_rate(n, v):
        if v is None:
            return "-"
        return f"{v / 1000:.1f}k IOPS" if n == "c" else f"{v:.2f} GB/s"

    def cpu_per_gb(n, side):
        r = results.get((n, side))
        return "-" if r is None else f"{r['cpu'] / (r['bytes'] / 1e9):.2f}"

    lines = []
    lines.append(f"page cache dropped before each run: {'yes' if cold else 'NO (not root?)'}; "
                 f"queue depth {QUEUE_DEPTH}; {args.repeat} round(s), median shown")
    lines.append("")
    lines.append("| workload | lsio (io_uring) | fio io_uring O_DIRECT | lsio/fio | lsio/fio, wall "
                 "| lsio (pread) | obstore LocalStore | CPU s/GB: lsio | fio | lsio pread "
                 "| obstore |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for n in names:
        lines.append(f"| ({n}) {WORKLOADS[n]['desc']} | {fmt_rate(n, rate(n, 'lsio'))} | "
                     f"{fmt_rate(n, rate(n, 'fio'))} | {ratio(n, False)} | {ratio(n, True)} | "
                     f"{fmt_rate(n, rate(n, 'posix'))} | "
                     f"{fmt_rate(n, rate(n, 'obstore'))} | {cpu_per_gb(n, 'lsio')} | "
                     f"{cpu_per_gb(n, 'fio')} | {cpu_per_gb(n, 'posix')} | "
                     f"{cpu_per_gb(n, 'obstore')} |")
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()
