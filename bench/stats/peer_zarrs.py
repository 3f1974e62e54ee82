#!/usr/bin/env python3
"""Peer: zarr-python with the zarrs codec pipeline (Rust), reading the array in large blocks.

    zarr.config.set({"codec_pipeline.path": "zarrs.ZarrsCodecPipeline",
                     "threading.max_workers": THREADS})

Blocks are --block time steps over the whole lat x lon plane; one block is read ahead on a
helper thread while the main thread reduces the previous one with numpy (the same single-pass
per-block moments as the TensorStore driver, peer_common.BlockMoments).

Prints one JSON line: count, min, max, mean, std, seconds (open + read + reduce, in process).
"""

import argparse
import os
import sys
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import zarr  # noqa: E402
import zarrs  # noqa: E402,F401  (registers the pipeline)

from peer_common import BlockMoments, Timer, block_starts, emit  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("store")
    ap.add_argument("--var", default="t2m")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--block", type=int, default=8, help="time steps per block")
    args = ap.parse_args()
    zarr.config.set({"codec_pipeline.path": "zarrs.ZarrsCodecPipeline",
                     "threading.max_workers": args.threads})
    with Timer() as t:
        z = zarr.open_array(args.store, path=args.var, mode="r")
        acc = BlockMoments()
        blocks = block_starts(z.shape[0], args.block)
        with ThreadPoolExecutor(1) as ahead:
            future = ahead.submit(z.__getitem__, slice(*blocks[0]))
            for i in range(len(blocks)):
                block = future.result()
                if i + 1 < len(blocks):
                    future = ahead.submit(z.__getitem__, slice(*blocks[i + 1]))
                acc.add(block)
                del block
    emit(acc.result(), t.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
