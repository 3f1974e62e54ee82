#!/usr/bin/env python3
"""Codec decode throughput, lsio against numcodecs, one thread, same chunk, same run.

The chunk is 8 x 512 x 512 float32 (8 MiB) of smooth fields plus noise, the way geophysical
data compresses. Each codec row encodes it with numcodecs, then:
  * numcodecs: codec.decode(buf, out=preallocated), best of --repeats (blosc with
    numcodecs.blosc.set_nthreads(1) and use_threads off);
  * lsio: codec_bench (Google Benchmark) decodes the same bytes through a CodecChain built
    from the same numcodecs configuration, best of --repeats repetitions.
Throughput is decoded bytes per second. Prints a Markdown table with the ratio.

    .venv/bin/python bench/codec/run_codec_bench.py --bench build/bench/codec_bench
or  ninja -C build bench_codec
"""

import argparse
import json
import os
import subprocess
import sys
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore")

import numcodecs  # noqa: E402
import numcodecs.blosc  # noqa: E402

ROWS = [
    # (label, numcodecs config, headline row?)
    ("blosc-zstd", {"id": "blosc", "cname": "zstd", "clevel": 5, "shuffle": 1}, True),
    ("blosc-zstd bitshuffle", {"id": "blosc", "cname": "zstd", "clevel": 5, "shuffle": 2}, True),
    ("blosc-lz4", {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1}, True),
    ("zstd", {"id": "zstd", "level": 3}, True),
    ("lz4", {"id": "lz4", "acceleration": 1}, True),
    ("gzip", {"id": "gzip", "level": 5}, True),
    ("zlib", {"id": "zlib", "level": 5}, False),
    ("bz2", {"id": "bz2", "level": 5}, False),
    ("lzma", {"id": "lzma", "preset": 1}, False),
]


def make_chunk(seed=7):
    """8 levels of smooth 512x512 fields (a few large-scale modes) plus small noise."""
    rng = np.random.default_rng(seed)
    y, x = np.meshgrid(np.linspace(0, 2 * np.pi, 512), np.linspace(0, 2 * np.pi, 512),
                       indexing="ij")
    levels = []
    for k in range(8):
        field = 280.0 - 3.0 * k
        for _ in range(6):
            a, b, p = rng.integers(1, 5), rng.integers(1, 5), rng.random() * 2 * np.pi
            field = field + rng.normal(0, 4.0) * np.sin(a * x + b * y + p)
        levels.append(field + rng.normal(0, 0.05, field.shape))
    return np.stack(levels).astype(np.float32)


def time_numcodecs(codec, encoded, out, repeats, min_seconds):
    """Best (wall, thread CPU) seconds per decode over `repeats` timed loops."""
    best_wall = best_cpu = float("inf")
    for _ in range(repeats):
        n = 0
        wall0, cpu0 = time.perf_counter(), time.thread_time()
        while True:
            codec.decode(encoded, out=out)
            n += 1
            wall = time.perf_counter() - wall0
            if wall >= min_seconds:
                break
        cpu = time.thread_time() - cpu0
        best_wall = min(best_wall, wall / n)
        best_cpu = min(best_cpu, cpu / n)
    return best_wall, best_cpu


def run_lsio(bench, work, repeats, min_seconds):
    cmd = [bench, "--chunks", work, "--benchmark_format=json",
           f"--benchmark_repetitions={repeats}", f"--benchmark_min_time={min_seconds}"]
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    best = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("run_type") != "iteration" or b.get("error_occurred"):
            continue
        unit = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b["time_unit"]]
        wall, cpu = b["real_time"] * unit, b["cpu_time"] * unit
        old = best.get(b["run_name"], (float("inf"), float("inf")))
        best[b["run_name"]] = (min(old[0], wall), min(old[1], cpu))
    return best


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bench", required=True, help="path of the codec_bench binary")
    p.add_argument("--work-dir", default="codec_bench_chunks")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--min-seconds", type=float, default=0.2)
    args = p.parse_args()

    numcodecs.blosc.set_nthreads(1)
    numcodecs.blosc.use_threads = False
    data = make_chunk()
    os.makedirs(args.work_dir, exist_ok=True)
    manifest = {"chunks": []}
    encoded = {}
    for label, config, _ in ROWS:
        codec = numcodecs.get_codec(dict(config))
        enc = bytes(codec.encode(data))
        name = label.replace(" ", "_")
        with open(os.path.join(args.work_dir, name + ".bin"), "wb") as f:
            f.write(enc)
        manifest["chunks"].append({"name": name, "compressor": codec.get_config(),
                                   "dtype": "float32", "shape": list(data.shape),
                                   "encoded": name + ".bin"})
        encoded[label] = (codec, enc)
    with open(os.path.join(args.work_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f)

    lsio = run_lsio(args.bench, args.work_dir, args.repeats, args.min_seconds)
    nbytes = data.nbytes
    out = np.empty_like(data)
    print(f"chunk: {data.shape} float32, {nbytes / 2**20:.0f} MiB; one thread; best of "
          f"{args.repeats}; numcodecs {numcodecs.__version__}, numpy {np.__version__}")
    print("GB/s of decoded bytes per second of thread CPU time (the wall-clock ratio, "
          "which a busy machine disturbs, is in the last column)\n")
    print("| codec | ratio | numcodecs GB/s | lsio GB/s | lsio / numcodecs | wall-clock ratio |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    worst = float("inf")
    for label, config, headline in ROWS:
        codec, enc = encoded[label]
        nc_wall, nc_cpu = time_numcodecs(codec, enc, out, args.repeats, args.min_seconds)
        np.testing.assert_array_equal(out, data)  # numcodecs decoded what it encoded
        timing = lsio.get("lsio/" + label.replace(" ", "_"))
        if timing is None:
            print(f"| {label} | lsio failed to decode | | | | |")
            worst = 0
            continue
        ls_wall, ls_cpu = timing
        ratio = nc_cpu / ls_cpu
        if headline:
            worst = min(worst, ratio)
        print(f"| {label}{'' if headline else ' (info)'} | {nbytes / len(enc):.2f} | "
              f"{nbytes / nc_cpu / 1e9:.2f} | {nbytes / ls_cpu / 1e9:.2f} | {ratio:.2f}x | "
              f"{nc_wall / ls_wall:.2f}x |")
    gz_ratio = nbytes / len(encoded["gzip"][1])
    for impl in ("isal_inflate", "zlib_inflate"):
        timing = lsio.get(f"{impl}/gzip")
        if timing is not None:
            print(f"| gzip, {impl.replace('_', ' ')} instead of libdeflate (info) | "
                  f"{gz_ratio:.2f} | | {nbytes / timing[1] / 1e9:.2f} | | |")
    print(f"\nworst lsio / numcodecs over the headline rows: {worst:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
