#!/usr/bin/env python3
"""Single-thread GRIB2 decode: lsio (grib_decode_bench) against ecCodes' Python loop
(codes_grib_new_from_file + codes_get_values + codes_release, the reference the issue names),
CPU seconds of one thread, on files of 1440x721 fields written here with ecCodes in each
packing (GFS-like smooth fields with noise, bit widths as ecCodes' encoders choose them).

    run_grib_bench.py --bench BUILD/bin/grib_decode_bench --work-dir DIR [--repeat 3]

Both sides are timed as the best of --repeat passes over each file, page cache warm.
"""
import argparse
import json
import os
import subprocess
import time

import numpy as np

import eccodes as ec

NI, NJ = 1440, 721
PACKINGS = [  # name, packingType, bitsPerValue, extra keys, messages
    ("simple", "grid_simple", 12, [], 12),
    ("complex", "grid_complex", 12, [], 12),
    ("complex_sd2", "grid_complex_spatial_differencing", 12, [("orderOfSpatialDifferencing", 2)], 12),
    ("ccsds", "grid_ccsds", 16, [], 12),
    ("ieee", "grid_ieee", None, [("precision", 1)], 12),
    ("jpeg", "grid_jpeg", 12, [], 3),
    ("png", "grid_png", 16, [], 3),
]


def field(rng):
    y = np.linspace(-1, 1, NJ)[:, None]
    x = np.linspace(0, 2 * np.pi, NI)[None, :]
    base = 288 - 40 * y ** 2 + 5 * np.sin(3 * x) * np.cos(2 * np.pi * y)
    noise = np.cumsum(rng.normal(0, 0.05, (NJ, NI)), axis=1)
    return (base + noise - noise.mean()).ravel()


def write(path, packing, bpv, extra, count, rng):
    with open(path, "wb") as f:
        for i in range(count):
            h = ec.codes_grib_new_from_samples("regular_ll_sfc_grib2")
            ec.codes_set_string(h, "packingType", packing)
            for k, v in [("Ni", NI), ("Nj", NJ), ("latitudeOfFirstGridPointInDegrees", 90.0),
                         ("longitudeOfFirstGridPointInDegrees", 0.0),
                         ("latitudeOfLastGridPointInDegrees", -90.0),
                         ("longitudeOfLastGridPointInDegrees", 359.75),
                         ("iDirectionIncrementInDegrees", 0.25),
                         ("jDirectionIncrementInDegrees", 0.25),
                         ("numberOfDataPoints", NI * NJ)] + extra:
                ec.codes_set(h, k, v)
            if bpv:
                ec.codes_set(h, "bitsPerValue", bpv)
            ec.codes_set_string(h, "shortName", "2t")
            ec.codes_set(h, "step", i)
            ec.codes_set_double_array(h, "values", field(rng))
            f.write(ec.codes_get_message(h))
            ec.codes_release(h)


def eccodes_seconds(path, repeat):
    best = None
    for _ in range(repeat):
        t0 = time.process_time()
        with open(path, "rb") as f:
            while True:
                h = ec.codes_grib_new_from_file(f)
                if h is None:
                    break
                ec.codes_get_values(h)
                ec.codes_release(h)
        t = time.process_time() - t0
        best = t if best is None else min(best, t)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", required=True)
    ap.add_argument("--work-dir", required=True)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--also", nargs="*", default=[],
                    help="more GRIB2 files to time (e.g. the shared fixtures)")
    a = ap.parse_args()
    os.makedirs(a.work_dir, exist_ok=True)
    rng = np.random.default_rng(7)
    files = []
    for name, packing, bpv, extra, count in PACKINGS:
        path = os.path.join(a.work_dir, f"bench_{name}.grib2")
        if not os.path.exists(path):
            write(path, packing, bpv, extra, count, rng)
        files.append((name, path))
    files += [(os.path.basename(p), p) for p in a.also]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run([a.bench, "--repeat", str(a.repeat)] + [p for _, p in files],
                         check=True, capture_output=True, text=True, env=env).stdout
    lsio = {r["file"]: r for r in json.loads(out)}
    print(f"{'file':28} {'fields':>6} {'Mvalues':>8} {'ecCodes s':>10} {'lsio s':>8} "
          f"{'ecCodes Mv/s':>12} {'lsio Mv/s':>10} {'ratio':>6}")
    for name, path in files:
        r = lsio[path]
        e = eccodes_seconds(path, a.repeat)
        mv = r["values"] / 1e6
        print(f"{name[:28]:28} {r['fields']:6d} {mv:8.1f} {e:10.3f} {r['cpu_seconds']:8.3f} "
              f"{mv / e:12.1f} {mv / r['cpu_seconds']:10.1f} {e / r['cpu_seconds']:6.2f}x")


if __name__ == "__main__":
    main()
