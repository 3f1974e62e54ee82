#!/usr/bin/env python3
"""Peer: TensorStore reading the array in large blocks, reduced with numpy as it arrives.

Blocks are --block time steps (a multiple of the chunk or shard extent) over the whole
lat x lon plane; --inflight reads are outstanding while the main thread reduces the block
that arrived (single pass per block: min, max, mean, variance about the block mean; blocks
merged with Chan's formula in float64, peer_common.BlockMoments). TensorStore decodes on its
own pool: data_copy_concurrency = --threads, file_io_concurrency = 64 (as many reads in flight
as the other sides), no chunk cache (each chunk is read once).

Prints one JSON line: count, min, max, mean, std, seconds (open + read + reduce, in process).
"""

import argparse
import os
import sys
from collections import deque

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tensorstore as ts  # noqa: E402

from peer_common import BlockMoments, Timer, block_starts, emit  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("store")
    ap.add_argument("--var", default="t2m")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--block", type=int, default=8, help="time steps per block")
    ap.add_argument("--inflight", type=int, default=2, help="blocks read ahead")
    args = ap.parse_args()
    v3 = os.path.exists(os.path.join(args.store, args.var, "zarr.json"))
    spec = {
        "driver": "zarr3" if v3 else "zarr",
        "kvstore": {"driver": "file", "path": os.path.join(os.path.abspath(args.store),
                                                            args.var) + "/"},
        "context": {
            "cache_pool": {"total_bytes_limit": 0},
            "data_copy_concurrency": {"limit": args.threads},
            "file_io_concurrency": {"limit": 64},
        },
    }
    with Timer() as t:
        arr = ts.open(spec, read=True).result()
        nt = arr.shape[0]
        acc = BlockMoments()
        pending = deque()
        for start, stop in block_starts(nt, args.block):
            pending.append(arr[start:stop].read())
            if len(pending) > args.inflight:
                acc.add(pending.popleft().result())
        while pending:
            acc.add(pending.popleft().result())
    emit(acc.result(), t.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
