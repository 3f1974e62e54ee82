"""`lsio stats` with and without fused decode-and-reduce (issue 18), end to end, on a tmpfs copy
(the disk out of the picture), against numcodecs decoding every chunk (one process per core) as
the reference (each process times its own loop of reading and decoding the chunk files; the
interpreter's start-up and imports are left out): CPU seconds and wall seconds per GB of decoded
data, sides alternated, best of --rounds. Arrays: blosc-zstd (shuffle), blosc-lz4 (shuffle), plain zstd, float32, 8 MiB chunks
(the stats benchmark's shape), written with zarr-python. The peers reading the array alone
(zarr-python with the zarrs codec pipeline, TensorStore; all threads they want) give the issue's
second reference: lsio stats should need at most 0.75x the CPU of the fastest of them.

    python bench/fused/run_stats_ab.py --lsio build/bin/lsio [--gb 1] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DECODE_ALL = r"""
import sys, time, os, numcodecs, numpy as np
from pathlib import Path
files = sys.argv[2:]
codec = numcodecs.get_codec(__import__("json").loads(sys.argv[1]))
t0, c0 = time.perf_counter(), time.process_time()
for f in files:  # read (from tmpfs) and decode each chunk, as a numcodecs user does
    codec.decode(Path(f).read_bytes())
print(time.perf_counter() - t0, time.process_time() - c0)
"""

# A peer reading the whole array (decoded into numpy, 8 time steps = one chunk row at a time, as
# a reduction over it would), timed inside the process (imports excluded); prints wall and the
# process's CPU seconds (all its threads).
PEER_READ = r"""
import sys, time
path, side = sys.argv[1], sys.argv[2]
if side == "zarrs":
    import zarr, zarrs  # noqa: F401
    zarr.config.set({"codec_pipeline.path": "zarrs.ZarrsCodecPipeline"})
    a = zarr.open_array(path, mode="r")
    read = lambda i: a[i:i + 8]
else:
    import tensorstore as ts
    a = ts.open({"driver": "zarr", "kvstore": {"driver": "file", "path": path}}).result()
    read = lambda i: a[i:i + 8].read().result()
n = a.shape[0]
t0, c0 = time.perf_counter(), time.process_time()
total = 0.0
for i in range(0, n, 8):
    total += float(read(i)[0, 0, 0])
print(time.perf_counter() - t0, time.process_time() - c0)
"""


def run(cmd) -> dict:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    if proc.returncode:
        raise RuntimeError(f"{cmd[:3]} failed: {err.decode()[-1000:]}")
    return {"wall": wall, "out": out.decode()}


def cpu_of(fn):
    before = os.times()
    r = fn()
    after = os.times()
    r["cpu"] = (after.children_user - before.children_user) + \
        (after.children_system - before.children_system)
    return r


def write(path: Path, gb: float, codec: str) -> dict:
    import numcodecs
    import zarr

    n = max(2, int(gb * 1e9 / (8 << 20)))
    compressor = {"blosc-zstd": numcodecs.Blosc("zstd", 3, numcodecs.Blosc.SHUFFLE),
                  "blosc-lz4": numcodecs.Blosc("lz4", 5, numcodecs.Blosc.SHUFFLE),
                  "zstd": numcodecs.Zstd(3)}[codec]
    a = zarr.create_array(path, shape=(n * 8, 512, 512), chunks=(8, 512, 512), dtype="f4",
                          compressors=compressor, zarr_format=2, fill_value=None)
    rng = np.random.default_rng(1)
    base = (np.sin(np.linspace(0, 30, 512, dtype="f4"))[None, :, None] *
            np.cos(np.linspace(0, 9, 512, dtype="f4"))[None, None, :])
    for i in range(n):
        a[i * 8:(i + 1) * 8] = base * (1 + 0.001 * i) + \
            rng.normal(0, 0.01, (8, 512, 512)).astype("f4")
    return {"codec": compressor.get_config(), "bytes": n * (8 << 20),
            "files": sorted(str(p) for p in path.iterdir() if not p.name.startswith("."))}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lsio", required=True)
    ap.add_argument("--gb", type=float, default=1.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--markdown")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="lsio-fused-ab-", dir="/dev/shm"))
    rows = []
    try:
        for codec in ("blosc-zstd", "blosc-lz4", "zstd"):
            p = root / f"{codec}.zarr"
            facts = write(p, args.gb, codec)
            gb = facts["bytes"] / 1e9
            sides = {
                "lsio stats (fused)": lambda: run([args.lsio, "stats", str(p), "--json",
                                                   "--quiet", "--threads", str(args.threads)]),
                "lsio stats --no-fused": lambda: run([args.lsio, "stats", str(p), "--json",
                                                      "--quiet", "--no-fused", "--threads",
                                                      str(args.threads)]),
            }

            def numcodecs_side():
                files = facts["files"]
                k = args.threads
                parts = [files[i::k] for i in range(k)]
                # Timed inside each process (interpreter start-up and imports excluded): the
                # slowest process's wall time, the processes' CPU time summed.
                procs = [subprocess.Popen([sys.executable, "-c", DECODE_ALL,
                                           json.dumps(facts["codec"]), *part],
                                          stdout=subprocess.PIPE, text=True) for part in parts]
                walls, cpus = [], []
                for pr in procs:
                    out, _ = pr.communicate()
                    if pr.returncode:
                        raise RuntimeError("numcodecs side failed")
                    w, c = map(float, out.split())
                    walls.append(w)
                    cpus.append(c)
                return {"wall": max(walls), "out": "", "inner_cpu": sum(cpus)}

            sides[f"numcodecs decode only ({args.threads} processes)"] = numcodecs_side

            def peer_side(which):
                def go():
                    out = subprocess.run([sys.executable, "-c", PEER_READ, str(p), which],
                                         check=True, capture_output=True, text=True).stdout
                    w, c = map(float, out.split())
                    return {"wall": w, "out": "", "inner_cpu": c}
                return go

            sides["zarr-python + zarrs read only"] = peer_side("zarrs")
            sides["TensorStore read only"] = peer_side("tensorstore")
            best = {}
            outs = {}
            for _ in range(args.rounds):
                for name, fn in sides.items():
                    r = cpu_of(fn)
                    if "inner_cpu" in r:
                        r["cpu"] = r["inner_cpu"]
                    if r["out"]:
                        outs.setdefault(name, json.loads(r["out"])["variables"])
                    b = best.get(name)
                    if b is None or r["cpu"] < b["cpu"]:
                        best[name] = {"cpu": r["cpu"], "wall": r["wall"]}
            vals = list(outs.values())
            identical = all(v == vals[0] for v in vals)
            ref = best[f"numcodecs decode only ({args.threads} processes)"]
            for name, b in best.items():
                rows.append(f"| {codec} | {name} | {b['cpu'] / gb:.3f} | {b['wall'] / gb:.3f} | "
                            f"{b['cpu'] / ref['cpu']:.2f}x | "
                            f"{'yes' if identical or not name.startswith('lsio') else 'NO'} |")
            print(*rows[-len(best):], sep="\n", file=sys.stderr, flush=True)
            shutil.rmtree(p)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    head = ["| array | side | CPU s/GB | wall s/GB | CPU vs numcodecs decode | "
            "fused == unfused |", "| --- | --- | ---: | ---: | ---: | --- |"]
    text = "\n".join(head + rows)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
