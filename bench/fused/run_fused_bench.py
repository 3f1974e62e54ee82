#!/usr/bin/env python3
"""Decode and fused decode+stats, CPU seconds per GB: lsio against numcodecs, one thread.

The chunk is bench/codec's 8 x 512 x 512 float32 (8 MiB) of smooth fields plus noise. Each
row encodes it with numcodecs; then, round after round, alternating so that a busy machine
disturbs every side alike:
  * numcodecs: codec.decode(buf, out=preallocated) (blosc with one thread), thread CPU time;
  * fused_bench: lsio decode, lsio decode + stats (unfused), lsio fused decode+stats, and for
    blosc rows c-blosc itself (Debian's libblosc; numcodecs bundles its own c-blosc 1.21.7).
Reports the median over rounds of CPU seconds per GB of decoded data, and ratios.

    .venv/bin/python bench/fused/run_fused_bench.py --bench build/bin/fused_bench
or  ninja -C build bench_fused
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore")

import numcodecs  # noqa: E402
import numcodecs.blosc  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "codec"))
from run_codec_bench import make_chunk  # noqa: E402

ROWS = [
    ("blosc-zstd", {"id": "blosc", "cname": "zstd", "clevel": 5, "shuffle": 1}),
    ("blosc-lz4", {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1}),
    ("blosc-zstd-bitshuffle", {"id": "blosc", "cname": "zstd", "clevel": 5, "shuffle": 2}),
    ("blosc-lz4-noshuffle", {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 0}),
    ("zstd", {"id": "zstd", "level": 3}),
    ("lz4", {"id": "lz4", "acceleration": 1}),
    ("gzip", {"id": "gzip", "level": 5}),
]


def numcodecs_cpu(codec, encoded, out, min_seconds):
    """Thread CPU seconds per decode."""
    codec.decode(encoded, out=out)
    n = 0
    t0 = time.thread_time()
    while True:
        codec.decode(encoded, out=out)
        n += 1
        t = time.thread_time()
        if t - t0 >= min_seconds:
            return (t - t0) / n


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bench", required=True, help="path of the fused_bench binary")
    p.add_argument("--work-dir", default="fused_bench_chunks")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--min-seconds", type=float, default=0.3)
    p.add_argument("--json", help="also write the raw timings here")
    args = p.parse_args()

    numcodecs.blosc.set_nthreads(1)
    numcodecs.blosc.use_threads = False
    data = make_chunk()
    os.makedirs(args.work_dir, exist_ok=True)
    manifest = {"chunks": []}
    codecs = {}
    for label, config in ROWS:
        codec = numcodecs.get_codec(dict(config))
        enc = bytes(codec.encode(data))
        with open(os.path.join(args.work_dir, label + ".bin"), "wb") as f:
            f.write(enc)
        manifest["chunks"].append({"name": label, "compressor": codec.get_config(),
                                   "dtype": "float32", "shape": list(data.shape),
                                   "encoded": label + ".bin"})
        codecs[label] = (codec, enc)
    with open(os.path.join(args.work_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f)

    out = np.empty_like(data)
    times = {label: {"numcodecs": []} for label, _ in ROWS}
    for _ in range(args.rounds):
        for label, _ in ROWS:
            codec, enc = codecs[label]
            times[label]["numcodecs"].append(numcodecs_cpu(codec, enc, out, args.min_seconds))
            np.testing.assert_array_equal(out, data)
        res = subprocess.run([args.bench, "--chunks", args.work_dir, "--rounds", "1",
                              "--min-seconds", str(args.min_seconds)],
                             check=True, stdout=subprocess.PIPE, text=True).stdout
        for label, sides in json.loads(res).items():
            for side, values in sides.items():
                times[label].setdefault(side, []).extend(values)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(times, f, indent=1)

    gb = data.nbytes / 1e9
    print(f"chunk: {data.shape} float32, {data.nbytes / 2**20:.0f} MiB; one thread; median of "
          f"{args.rounds} interleaved rounds of thread CPU time; numcodecs "
          f"{numcodecs.__version__} (c-blosc {numcodecs.blosc.VERSION_STRING}), lsio with "
          f"Debian's libraries\n")
    print("CPU seconds per GB of decoded data (lower is better); ratios are numcodecs' CPU time "
          "over lsio's (above 1: lsio is faster)\n")
    print("| codec | numcodecs decode | c-blosc (Debian) | lsio decode | lsio decode + stats | "
          "lsio fused decode + stats | decode: numcodecs / lsio | decode+stats: numcodecs "
          "decode / lsio fused | fused / unfused |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, _ in ROWS:
        t = {side: statistics.median(v) / gb for side, v in times[label].items() if v}
        cb = f"{t['cblosc']:.3f}" if "cblosc" in t else ""
        print(f"| {label} | {t['numcodecs']:.3f} | {cb} | {t['decode']:.3f} | "
              f"{t['decode_stats']:.3f} | {t['fused']:.3f} | "
              f"{t['numcodecs'] / t['decode']:.2f}x | {t['numcodecs'] / t['fused']:.2f}x | "
              f"{t['fused'] / t['decode_stats']:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
