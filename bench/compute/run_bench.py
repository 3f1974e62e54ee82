#!/usr/bin/env python3
"""The compute benchmark: lsio's one-pass statistics kernels against numpy, single thread.

Runs compute_bench (the C++ kernels and a streaming read of the same memory) and, in the same
process run, numpy's four calls a careful user would make for min, max, sum and sum of squares,
plus numpy's own streaming read (np.sum of the bytes viewed as uint64). Prints a table and the
ratios; docs/benchmarks.md records a run.

  run_bench.py --binary build/bin/compute_bench [--mib 256] [--repeat 5]
"""

import argparse
import json
import math
import os
import subprocess
import sys
import time

# Single thread for numpy's BLAS (np.dot), before numpy is imported.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[var] = "1"

import numpy as np  # noqa: E402


def best_and_median(fn, repeat):
    """Best and median wall time, and the best CPU time of this thread (what a busy, shared
    machine took away from the wall time does not count there)."""
    times = []
    best_cpu = math.inf
    for _ in range(repeat):
        cpu = time.thread_time()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
        best_cpu = min(best_cpu, time.thread_time() - cpu)
    times.sort()
    return times[0], times[len(times) // 2], best_cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    nbytes = args.mib << 20

    # The C++ side first (it allocates its own arrays of the same size and distribution; the
    # kernels have no data-dependent branches on NaN-free data, nor have numpy's calls).
    proc = subprocess.run([args.binary, f"--mib={args.mib}", f"--repeat={args.repeat}",
                           "--per-target"], check=True, capture_output=True, text=True)
    cpp = json.loads(proc.stdout)

    rng = np.random.default_rng(1)
    f32 = rng.normal(5.0, 3.0, nbytes // 4).astype(np.float32)
    i16 = rng.integers(-32768, 32768, nbytes // 2, dtype=np.int16)
    rows = []

    def measure(name, fn, data):
        fn()  # warm-up
        best, median, cpu = best_and_median(fn, args.repeat)
        gbps = (data.nbytes / best / 1e9, data.nbytes / median / 1e9, data.nbytes / cpu / 1e9)
        rows.append((name,) + gbps)
        return gbps

    np_bw = measure("numpy np.sum(x.view(uint64)) (stream read)",
                    lambda: np.sum(f32.view(np.uint64)), f32)
    np_f32 = measure("numpy float32: min, max, sum, dot(x, x)",
                     lambda: (np.min(f32), np.max(f32), np.sum(f32), np.dot(f32, f32)), f32)
    # The fastest correct int16 variant we found: einsum with an int64 accumulator (np.dot of
    # int16 would overflow; x.astype(int64) then dot is twice as slow).
    np_i16 = measure("numpy int16: min, max, sum(dtype=int64), einsum(dtype=int64)",
                     lambda: (np.min(i16), np.max(i16), np.sum(i16, dtype=np.int64),
                              np.einsum("i,i->", i16, i16, dtype=np.int64)), i16)
    for name, fn, data in (("  np.min float32", lambda: np.min(f32), f32),
                           ("  np.max float32", lambda: np.max(f32), f32),
                           ("  np.sum float32", lambda: np.sum(f32), f32),
                           ("  np.dot(x, x) float32", lambda: np.dot(f32, f32), f32),
                           ("  np.sum int16 dtype=int64", lambda: np.sum(i16, dtype=np.int64),
                            i16),
                           ("  np.einsum int16 dtype=int64",
                            lambda: np.einsum("i,i->", i16, i16, dtype=np.int64), i16)):
        measure(name, fn, data)

    print(f"compute benchmark: {args.mib} MiB per array, best of {args.repeat}, single thread, "
          f"kernels on {cpp['kernel_target']}")
    print(f"{'':62s} {'best GB/s':>10s} {'median':>8s} {'CPU-time':>9s}")
    for name, best, median, cpu in rows:
        print(f"{name:62s} {best:10.2f} {median:8.2f} {cpu:9.2f}")
    lines = [("lsio stream read (4 x uint64 sums)", cpp["stream_read"]),
             ("lsio stats float32 (count/min/max/sum/mean/var, one pass)",
              cpp["stats_float32"]),
             ("lsio stats int16 (exact, one pass)", cpp["stats_int16"]),
             ("lsio mean/var over time, (8,512,512) float32 chunks",
              cpp["reduce_time_8x512x512_float32"]),
             ("lsio mean/var over time, (64,128,512) float32 chunks",
              cpp["reduce_time_64x128x512_float32"]),
             ("lsio mean/var over x, (8,512,512) float32 chunks",
              cpp["reduce_x_8x512x512_float32"]),
             ("lsio histogram float32, 100 bins", cpp["histogram_float32_100_bins"])]
    for name, r in lines:
        print(f"{name:62s} {r['best_gbps']:10.2f} {r['median_gbps']:8.2f} {r['cpu_gbps']:9.2f}")
    for target, r in cpp.get("per_target", {}).items():
        print(f"{'  stats float32 / int16 forced to ' + target:62s} "
              f"{r['stats_float32']['best_gbps']:10.2f} {r['stats_int16']['best_gbps']:8.2f}"
              "  (best GB/s float32, int16)")
    print()
    ok = True
    for label, key, ref in (("float32", "stats_float32", np_f32), ("int16", "stats_int16", np_i16)):
        r = cpp[key]
        ratio, median_ratio, cpu_ratio = (r["best_gbps"] / ref[0], r["median_gbps"] / ref[1],
                                          r["cpu_gbps"] / ref[2])
        ok = ok and ratio >= 2.0
        print(f"{label:8s} lsio / numpy four calls = {ratio:.2f}x best, {median_ratio:.2f}x "
              f"median, {cpu_ratio:.2f}x CPU time; lsio at "
              f"{r['best_gbps'] / cpp['stream_read']['best_gbps']:.0%} of the stream read "
              f"(lsio {cpp['stream_read']['best_gbps']:.1f}, numpy {np_bw[0]:.1f} GB/s)")
    print(f"target >= 2x numpy (best of {args.repeat}): {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
