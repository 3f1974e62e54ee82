"""What the peer drivers of the stats benchmark share: per-block moments merged exactly as a
careful numpy user would merge them, the block plan, and the one-line JSON result.

Each block is reduced with numpy in its own dtype (float32 here): min, max, mean, and the
variance about the block's mean (``np.var(block, mean=m)``, pairwise float32 sums, no second
mean pass); blocks are merged in float64 with Chan's formula, which is what keeps the result
within ~1e-7 of an exactly rounded one.
"""

from __future__ import annotations

import json
import math
import sys
import time

import numpy as np


class BlockMoments:
    def __init__(self) -> None:
        self.n = 0
        self.mean = 0.0
        self.m2 = 0.0
        self.min = math.inf
        self.max = -math.inf

    def add(self, block: np.ndarray) -> None:
        n = block.size
        if n == 0:
            return
        m = block.mean(keepdims=True)
        v = float(block.var(mean=m))
        bmin = float(block.min())
        bmax = float(block.max())
        self.merge(n, float(m.ravel()[0]), v * n, bmin, bmax)

    def merge(self, n: int, mean: float, m2: float, bmin: float, bmax: float) -> None:
        if n == 0:
            return
        total = self.n + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += m2 + delta * delta * self.n * n / total
        self.n = total
        self.min = min(self.min, bmin)
        self.max = max(self.max, bmax)

    def result(self) -> dict:
        return {"count": self.n, "min": self.min, "max": self.max, "mean": self.mean,
                "std": math.sqrt(self.m2 / self.n) if self.n else math.nan}


def block_starts(length: int, step: int) -> list[tuple[int, int]]:
    """[start, stop) along axis 0 in steps of `step` (aligned to the chunks or shards)."""
    return [(s, min(s + step, length)) for s in range(0, length, step)]


def emit(result: dict, seconds: float, **extra) -> None:
    out = dict(result)
    out["seconds"] = seconds
    out.update(extra)
    print(json.dumps(out), flush=True)


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start


def fail(message: str) -> None:
    print(message, file=sys.stderr)
    sys.exit(1)
