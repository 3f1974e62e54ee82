"""Reads into numpy (issue 18, item 3): CPU seconds and wall time per GB for reading a whole
array into a numpy array with lsio (`lsio.open(p)[...]`, which decodes whole chunks straight into
the result), zarr-python 3 and TensorStore, on a /dev/shm copy (the disk out of the picture),
for blosc-lz4, blosc-zstd and zstd. Every side's result is compared with the data written.

    .venv/bin/python bench/read/run_read_numpy.py [--gb 1] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time

import numpy as np

SIDE = r"""
import json, resource, sys, time
import numpy as np
side, path, kind = sys.argv[1], sys.argv[2], sys.argv[3]
if side == "lsio":
    import lsio
    a = lsio.open(path)
    read = lambda: a[...]
elif side == "zarr":
    import zarr
    a = zarr.open_array(path, mode="r")
    read = lambda: a[...]
else:
    import tensorstore as ts
    a = ts.open({"driver": "zarr", "kvstore": {"driver": "file", "path": path}}).result()
    read = lambda: a.read().result()
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
c0, t0 = cpu(), time.perf_counter()
x = read()
t1, c1 = time.perf_counter(), cpu()
print(json.dumps({"cpu": c1 - c0, "wall": t1 - t0, "sum": float(np.asarray(x, dtype=np.float64).sum())}))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gb", type=float, default=1.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dir", default="/dev/shm/lsio-bench-read")
    args = ap.parse_args()
    import numcodecs
    import zarr

    shutil.rmtree(args.dir, ignore_errors=True)
    os.makedirs(args.dir)
    t = max(8, int(args.gb * 2**30 / (512 * 512 * 4)) // 8 * 8)
    rng = np.random.default_rng(0)
    base = np.linspace(0, 100, 512 * 512, dtype=np.float32).reshape(512, 512)
    data = np.empty((t, 512, 512), np.float32)
    for i in range(t):
        data[i] = base + rng.normal(0, 1, (512, 512)).astype(np.float32)
    want = float(data.astype(np.float64).sum())
    codecs = {
        "blosc-lz4": numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE),
        "blosc-zstd": numcodecs.Blosc(cname="zstd", clevel=3, shuffle=numcodecs.Blosc.SHUFFLE),
        "zstd": numcodecs.Zstd(level=3),
    }
    gb = data.nbytes / 1e9
    print(f"# {data.shape} float32, 8 MiB chunks (8x512x512), {gb:.2f} GB; load "
          f"{os.getloadavg()[0]:.1f}; best of {args.rounds} by CPU seconds")
    print("| array | side | CPU s/GB | wall s/GB | CPU vs lsio |")
    print("| --- | --- | ---: | ---: | ---: |")
    for name, comp in codecs.items():
        p = os.path.join(args.dir, name + ".zarr")
        z = zarr.create_array(p, shape=data.shape, chunks=(8, 512, 512), dtype=np.float32,
                              compressors=comp, zarr_format=2, fill_value=0)
        z[...] = data
        best: dict[str, dict] = {}
        for _ in range(args.rounds):
            for side in ("lsio", "zarr", "tensorstore"):
                out = subprocess.run([sys.executable, "-c", SIDE, side, p, name], check=True,
                                     capture_output=True, text=True).stdout
                r = json.loads(out.strip().splitlines()[-1])
                if abs(r["sum"] - want) > 1e-6 * abs(want):
                    raise SystemExit(f"{side} read {name} wrong: sum {r['sum']} != {want}")
                if side not in best or r["cpu"] < best[side]["cpu"]:
                    best[side] = r
        for side, r in best.items():
            print(f"| {name} | {side} | {r['cpu'] / gb:.3f} | {r['wall'] / gb:.3f} | "
                  f"{r['cpu'] / best['lsio']['cpu']:.2f}x |")
        shutil.rmtree(p)
    shutil.rmtree(args.dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
