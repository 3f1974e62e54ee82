"""A/B of two lsio binaries (e.g. before and after a refactor): `lsio stats` on three 1 GB float32
arrays on tmpfs (raw, blosc-zstd, zstd; 8 MiB chunks), alternating the sides for 3 rounds, median
wall and CPU seconds, and whether every side printed the same statistics.

    python bench/stats/ab_binaries.py OLD/bin/lsio NEW/bin/lsio
"""
import json, os, subprocess, sys, time, shutil
import numpy as np, numcodecs, zarr
OLD, NEW = sys.argv[1], sys.argv[2]
root = "/dev/shm/lsio-ab"
os.makedirs(root, exist_ok=True)
def write(name, comp, n=128):
    p = f"{root}/{name}.zarr"
    if os.path.exists(p): return p
    a = zarr.create_array(p, shape=(n*8, 512, 512), chunks=(8, 512, 512), dtype="f4",
                          compressors=comp, zarr_format=2, fill_value=None)
    rng = np.random.default_rng(0)
    base = np.sin(np.linspace(0, 30, 512, dtype="f4"))[None, :, None] * np.cos(np.linspace(0, 9, 512, dtype="f4"))[None, None, :]
    for i in range(n):
        a[i*8:(i+1)*8] = base + rng.normal(0, 0.01, (8, 512, 512)).astype("f4")
    return p
stores = {"raw": write("raw", None), "blosc-zstd": write("bz", numcodecs.Blosc("zstd", 1, 1)),
          "zstd": write("z", numcodecs.Zstd(1))}
def run(cmd):
    b = os.times(); t = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    w = time.perf_counter() - t; a = os.times()
    return w, (a.children_user - b.children_user) + (a.children_system - b.children_system), json.loads(out)
rows = []
for name, p in stores.items():
    res = {"old": [], "new": [], "new --no-fused": []}
    vals = {}
    for r in range(3):
        for side, cmd in (("old", [OLD, "stats", p, "--json", "--quiet"]),
                          ("new", [NEW, "stats", p, "--json", "--quiet"]),
                          ("new --no-fused", [NEW, "stats", p, "--json", "--quiet", "--no-fused"])):
            w, c, out = run(cmd)
            res[side].append((w, c))
            vals[side] = out["variables"]
    same = vals["old"] == vals["new"] == vals["new --no-fused"]
    for side, xs in res.items():
        w = sorted(x[0] for x in xs)[1]; c = sorted(x[1] for x in xs)[1]
        rows.append((name, side, w, c, same))
gb = 128*8*512*512*4/1e9
print(f"| array (tmpfs, {gb:.2f} GB float32) | side | wall s (median of 3) | CPU s (median) | CPU vs old | same results |")
print("| --- | --- | ---: | ---: | ---: | --- |")
base = {}
for name, side, w, c, same in rows:
    if side == "old": base[name] = c
    print(f"| {name} | {side} | {w:.2f} | {c:.2f} | {c/base[name]:.2f}x | {same} |")
shutil.rmtree(root)
