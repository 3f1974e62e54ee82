#!/usr/bin/env python3
"""Blosc frames written by numcodecs (its bundled c-blosc), for lsio's own blosc decoder.

  make_blosc_frames.py --out DIR

Writes DIR/manifest.json and, per case, <name>.frame (numcodecs.Blosc.encode) and
<name>.decoded (numcodecs.Blosc.decode of that frame), covering every compressor numcodecs
writes (blosclz, lz4, lz4hc, zlib, zstd), no / byte / bit shuffle, typesizes 1 to 16 including
odd ones, default and forced block sizes (multiples of the typesize and not), sizes that leave
a partial last block and a tail that is not a whole element, incompressible data (which blosc
stores memcpyed) and clevel 0 (stored too), and empty input. Each case records the numpy dtype
the data is, for the fused statistics test ("" when no dtype has that width).

Run with the project's .venv python.
"""

import argparse
import json
import os

import numpy as np
from numcodecs import Blosc

CNAMES = ["blosclz", "lz4", "lz4hc", "zlib", "zstd"]
SHUFFLES = {0: "noshuffle", 1: "shuffle", 2: "bitshuffle"}
DTYPE_OF_WIDTH = {1: "uint8", 2: "int16", 4: "float32", 8: "float64"}


def smooth_bytes(nbytes, typesize, seed):
    """Data that compresses the way geophysical fields do: smooth values plus small noise,
    as float32/float64 where the width allows, else slowly varying integers, with a few NaN."""
    rng = np.random.default_rng(seed)
    n = nbytes // typesize
    x = np.linspace(0, 20, max(n, 1))
    if typesize == 4:
        a = (280 + 10 * np.sin(x) + rng.normal(0, 0.05, x.size)).astype("<f4")
        a[::997] = np.nan
    elif typesize == 8:
        a = (1e5 + 300 * np.sin(x) + rng.normal(0, 0.01, x.size)).astype("<f8")
        a[::1009] = np.nan
    elif typesize == 2:
        a = (1000 * np.sin(x) + rng.integers(-3, 4, x.size)).astype("<i2")
    else:
        a = (np.arange(x.size * typesize) // 97 % 251).astype("u1")
    raw = a.tobytes()[: n * typesize]
    tail = rng.integers(0, 256, nbytes - len(raw), dtype="u1").tobytes()
    return raw + tail


def cases():
    out = []
    seed = 0
    sizes = [(65536 * 4, "big"), (100003, "odd")]
    for cname in CNAMES:
        for shuffle in SHUFFLES:
            for typesize in [1, 2, 3, 4, 8, 12, 16, 7]:
                for blocksize in [0, 256, 1000, 65536]:
                    for nbytes, label in sizes:
                        if label == "odd" and blocksize not in (0, 1000):
                            continue
                        seed += 1
                        out.append(dict(cname=cname, clevel=5, shuffle=shuffle,
                                        typesize=typesize, blocksize=blocksize, nbytes=nbytes,
                                        data="smooth", seed=seed))
        # Stored frames: clevel 0, and noise that does not compress.
        for typesize in [1, 4, 8]:
            for shuffle in SHUFFLES:
                seed += 1
                out.append(dict(cname=cname, clevel=0, shuffle=shuffle, typesize=typesize,
                                blocksize=0, nbytes=40000, data="smooth", seed=seed))
                seed += 1
                out.append(dict(cname=cname, clevel=9, shuffle=shuffle, typesize=typesize,
                                blocksize=4096, nbytes=50000, data="noise", seed=seed))
        # Larger than the size from which whole-frame decodes stream their output.
        for typesize in [2, 4, 8]:
            seed += 1
            out.append(dict(cname=cname, clevel=5, shuffle=1, typesize=typesize, blocksize=0,
                            nbytes=(1 << 21) + 1000, data="smooth", seed=seed))
        # Empty and tiny.
        for nbytes in [0, 1, 5, 16, 129]:
            seed += 1
            out.append(dict(cname=cname, clevel=5, shuffle=1, typesize=4, blocksize=0,
                            nbytes=nbytes, data="smooth", seed=seed))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    manifest = []
    for c in cases():
        if c["data"] == "noise":
            data = np.random.default_rng(c["seed"]).integers(0, 256, c["nbytes"],
                                                              dtype="u1").tobytes()
        else:
            data = smooth_bytes(c["nbytes"], c["typesize"], c["seed"])
        codec = Blosc(cname=c["cname"], clevel=c["clevel"], shuffle=c["shuffle"],
                      blocksize=c["blocksize"], typesize=c["typesize"])
        frame = bytes(codec.encode(np.frombuffer(data, dtype="u1")))
        decoded = bytes(codec.decode(frame)) if data else b""  # numcodecs refuses empty frames
        assert decoded == data
        name = "{cname}_l{clevel}_{sh}_t{typesize}_b{blocksize}_n{nbytes}_{data}".format(
            sh=SHUFFLES[c["shuffle"]], **c)
        with open(os.path.join(args.out, name + ".frame"), "wb") as f:
            f.write(frame)
        with open(os.path.join(args.out, name + ".decoded"), "wb") as f:
            f.write(decoded)
        width = c["typesize"] if c["nbytes"] % c["typesize"] == 0 else 0
        manifest.append(dict(name=name, dtype=DTYPE_OF_WIDTH.get(width, ""),
                             memcpyed=bool(frame[2] & 0x02) if len(frame) > 2 else False,
                             **c))
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=0)
    print(f"{len(manifest)} blosc frames in {args.out}")


if __name__ == "__main__":
    main()
