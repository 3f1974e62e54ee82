"""Fused decode-and-reduce in `lsio stats` (issue 18): blosc chunks written by numcodecs with every
compressor, shuffle, typesize and blocksize are reduced straight from their stored bytes. The
fused and unfused paths (`--no-fused`) must give the same bits, and both must match numpy; corrupt
chunks must fail the same way on both."""

from __future__ import annotations

import itertools
import json

import numcodecs
import numpy as np
import pytest
import zarr

SHUFFLES = {"noshuffle": numcodecs.Blosc.NOSHUFFLE, "shuffle": numcodecs.Blosc.SHUFFLE,
            "bitshuffle": numcodecs.Blosc.BITSHUFFLE}


def _write(path, data, chunks, compressor):
    z = zarr.create_array(str(path), shape=data.shape, chunks=chunks, dtype=data.dtype,
                          compressors=compressor, zarr_format=2, fill_value=0)
    z[...] = data
    return z


def _stats(cli, path, *extra):
    out = cli.json("stats", path, "--quiet", *extra)
    (var,) = out["variables"].values()
    # The fused path ran for every stored chunk, and only when asked to.
    want = 0 if "--no-fused" in extra else out["chunks"] - out["missing_chunks"] - \
        (1 if "skip" in extra else 0)
    assert out["fused_chunks"] == want, out
    return var


@pytest.mark.parametrize("cname,shuffle,dtype,blocksize", [
    (c, s, d, b) for (c, s, d), b in zip(
        itertools.product(["zstd", "lz4", "lz4hc", "zlib", "blosclz"], SHUFFLES,
                          ["<f4", "<f8", "<i2", "<u1"]),
        itertools.cycle([0, 4096, 65536]))
])
def test_fused_equals_unfused_and_numpy(cli, tmp_path, cname, shuffle, dtype, blocksize):
    rng = np.random.default_rng(7)
    shape = (37, 61, 45)  # edge chunks in every dimension
    data = rng.normal(50, 20, shape)
    if np.dtype(dtype).kind == "f":
        data[rng.random(shape) < 0.01] = np.nan
    data = data.astype(dtype) if np.dtype(dtype).kind == "f" else \
        np.clip(data, np.iinfo(dtype).min, np.iinfo(dtype).max).astype(dtype)
    comp = numcodecs.Blosc(cname=cname, clevel=5, shuffle=SHUFFLES[shuffle],
                           blocksize=blocksize)
    p = tmp_path / "a.zarr"
    _write(p, data, (16, 32, 45), comp)
    fused = _stats(cli, p)
    unfused = _stats(cli, p, "--no-fused")
    assert json.dumps(fused, sort_keys=True) == json.dumps(unfused, sort_keys=True)
    ref = data.astype("f8")
    ref[data == 0] = np.nan  # the fill value is CF's _FillValue for a v2 array, as in xarray
    assert fused["count"] == int(np.count_nonzero(~np.isnan(ref)))
    assert fused["min"] == float(np.nanmin(ref))
    assert fused["max"] == float(np.nanmax(ref))
    assert fused["mean"] == pytest.approx(float(np.nanmean(ref)), rel=1e-12)
    assert fused["std"] == pytest.approx(float(np.nanstd(ref)), rel=1e-9)


def test_fused_selection_and_uncompressible_frames(cli, tmp_path):
    rng = np.random.default_rng(3)
    data = rng.random((40, 50, 60)).astype("f4")  # random mantissas: blosc stores blocks raw
    p = tmp_path / "r.zarr"
    _write(p, data, (8, 25, 60), numcodecs.Blosc(cname="lz4", clevel=1, shuffle=0))
    # A 3-d v2 array without _ARRAY_DIMENSIONS has dims dim_0, dim_1, dim_2.
    args = ("--isel", "dim_0=3:31", "--isel", "dim_1=7:44")
    fused = _stats(cli, p, *args)
    unfused = _stats(cli, p, "--no-fused", *args)
    assert fused == unfused
    sub = data[3:31, 7:44].astype("f8")
    assert fused["min"] == float(sub.min())
    assert fused["max"] == float(sub.max())
    assert fused["mean"] == pytest.approx(float(sub.mean()), rel=1e-12)


def test_corrupt_chunk_fails_the_same_way(cli, tmp_path):
    data = np.arange(64 * 64, dtype="f4").reshape(64, 64)
    p = tmp_path / "c.zarr"
    _write(p, data, (32, 32), numcodecs.Blosc(cname="zstd", clevel=3, shuffle=1))
    chunk = p / "1.0"
    raw = bytearray(chunk.read_bytes())
    raw[len(raw) // 2:] = b"\xff" * (len(raw) - len(raw) // 2)
    chunk.write_bytes(bytes(raw))
    for extra in ((), ("--no-fused",)):
        proc = cli.run("stats", p, "--quiet", *extra, check=False)
        assert proc.returncode == 1, proc.stderr
        assert "1.0" in proc.stderr
    # --on-error skip: the other three chunks, on both paths.
    fused = _stats(cli, p, "--on-error", "skip")
    unfused = _stats(cli, p, "--on-error", "skip", "--no-fused")
    assert fused == unfused
    kept = data.copy()
    kept[32:, :32] = 0  # chunk 1.0 skipped; 0 is the fill value (missing, as in xarray)
    assert fused["count"] == int(np.count_nonzero(kept))
    assert fused["max"] == float(kept.max())
