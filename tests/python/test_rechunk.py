"""`lsio rechunk` / lsio.rechunk against zarr-python 3 and xarray: random shapes, dtypes, chunks,
shards and formats (hypothesis), CF attributes and coordinates, fill-value chunks, SIGKILL and
--resume, refusals and write errors. References: the numpy data written by zarr-python, and
what zarr-python and xarray read back."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lsio


def _chunk_files(root: Path) -> dict[str, bytes]:
    """Every stored value below `root` except metadata, by relative key."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.name not in ("zarr.json", ".zarray", ".zattrs", ".zgroup",
                                          ".zmetadata"):
            out[str(p.relative_to(root))] = p.read_bytes()
    return out


# --- random arrays: zarr-python writes, lsio rechunks, zarr-python reads ---

DTYPES = ["float32", "float64", "int16", "uint8", "int64", "bool", "complex64"]


@st.composite
def cases(draw):
    rank = draw(st.integers(1, 3))
    shape = tuple(draw(st.integers(1, 13)) for _ in range(rank))
    src_chunks = tuple(draw(st.integers(1, s)) for s in shape)
    out_chunks = tuple(draw(st.integers(1, s)) for s in shape)
    src_fmt = draw(st.sampled_from([2, 3]))
    out_fmt = draw(st.sampled_from([2, 3]))
    src_shards = None
    if src_fmt == 3 and draw(st.booleans()):
        src_shards = tuple(c * draw(st.integers(1, 3)) for c in src_chunks)
    out_shards = None
    if out_fmt == 3 and draw(st.booleans()):
        out_shards = tuple(c * draw(st.integers(1, 3)) for c in out_chunks)
    dtype = draw(st.sampled_from(DTYPES))
    seed = draw(st.integers(0, 2**31))
    # A box of the array left as fill value (whole source chunks of it are then not stored).
    hole = tuple(sorted((draw(st.integers(0, s)), draw(st.integers(0, s)))) for s in shape)
    codec = draw(st.sampled_from(["zstd:1", "none", "blosc:lz4:5:shuffle", "gzip:1"]))
    # The source's compressor: zarr-python's default, or blosc-zstd in blocks of this many bytes
    # (0: blosc's choice), which lsio's decoder hands over block by block.
    src_blosc = draw(st.sampled_from([None, 0, 256, 1000]))
    return dict(shape=shape, src_chunks=src_chunks, out_chunks=out_chunks, src_fmt=src_fmt,
                out_fmt=out_fmt, src_shards=src_shards, out_shards=out_shards, dtype=dtype,
                seed=seed, hole=hole, codec=codec, src_blosc=src_blosc)


def _data(shape, dtype, seed, hole):
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        a = rng.integers(0, 2, shape).astype(bool)
    elif dtype.startswith("complex"):
        a = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    elif dtype.startswith("float"):
        a = rng.standard_normal(shape).astype(dtype)
        a.flat[:: 7] = np.nan
    else:
        info = np.iinfo(dtype)
        a = rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)
    a[tuple(slice(lo, hi) for lo, hi in hole)] = 0
    return a


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(c=cases())
def test_random_arrays_equal_bit_for_bit(tmp_path_factory, c):
    _rechunk_and_compare(tmp_path_factory.mktemp("rc"), c)


# Source chunks that each fall whole and contiguously in one output unit (merged along the
# leading dimension, or inside a shard spanning the trailing ones) are decoded straight into
# the unit's buffer; edge chunks, a hole of missing chunks and a multi-stage budget around them.
@pytest.mark.parametrize("case", [
    dict(shape=(37, 6, 10), src_chunks=(4, 6, 10), out_chunks=(16, 6, 10), out_shards=None),
    dict(shape=(37, 6, 10), src_chunks=(4, 6, 10), out_chunks=(4, 3, 10), out_shards=(12, 6, 10)),
    dict(shape=(9, 40), src_chunks=(1, 40), out_chunks=(9, 40), out_shards=None),
    dict(shape=(9, 40), src_chunks=(3, 7), out_chunks=(9, 40), out_shards=None),  # not contiguous
])
@pytest.mark.parametrize("dtype", ["float32", "int16"])
def test_source_chunks_decoded_into_the_output_unit(tmp_path, case, dtype):
    hole = ((5, 13),) + tuple((0, n) for n in case["shape"][1:])
    _rechunk_and_compare(tmp_path, dict(case, src_fmt=3, out_fmt=3, src_shards=None,
                                        dtype=dtype, seed=3, hole=hole, codec="zstd:1"))


def _rechunk_and_compare(tmp, c):
    """Rechunks an array written by zarr-python with case `c` and reads the result back with
    zarr-python: the same bits, chunks, shards, dtype and attributes."""
    data = _data(c["shape"], c["dtype"], c["seed"], c["hole"])
    src = tmp / "src.zarr"
    g = zarr.open_group(str(src), mode="w", zarr_format=c["src_fmt"])
    kwargs = dict(shape=data.shape, dtype=data.dtype, chunks=c["src_chunks"], fill_value=0)
    if c["src_shards"]:
        kwargs["shards"] = c["src_shards"]
    if c["src_fmt"] == 3:
        kwargs["dimension_names"] = [f"d{i}" for i in range(data.ndim)]
    if c.get("src_blosc") is not None:
        if c["src_fmt"] == 2:
            import numcodecs
            kwargs["compressors"] = numcodecs.Blosc("zstd", 1, 1, blocksize=c["src_blosc"])
        else:
            kwargs["compressors"] = zarr.codecs.BloscCodec(cname="zstd", clevel=1,
                                                           shuffle="shuffle",
                                                           blocksize=c["src_blosc"])
    a = g.create_array("a", **kwargs)
    a[...] = data
    if c["src_fmt"] == 2:
        a.attrs["_ARRAY_DIMENSIONS"] = [f"d{i}" for i in range(data.ndim)]
    a.attrs["note"] = "kept"
    dst = tmp / "dst.zarr"
    chunks = {f"d{i}": n for i, n in enumerate(c["out_chunks"])}
    shards = {f"d{i}": n for i, n in enumerate(c["out_shards"])} if c["out_shards"] else None
    result = lsio.rechunk(src, dst, chunks, shards=shards, zarr_format=c["out_fmt"],
                          codec=c["codec"], max_memory="64MiB", as_dataset=False)
    assert result["units_resumed"] == 0
    out = zarr.open_group(str(dst), mode="r")["a"]
    assert out.metadata.zarr_format == c["out_fmt"]
    assert out.chunks == c["out_chunks"]
    if c["out_shards"]:
        assert out.shards == c["out_shards"]
    assert out.dtype == data.dtype
    assert out.attrs["note"] == "kept"
    got = out[...]
    assert got.tobytes() == data.tobytes()
    assert not (dst / ".lsio-rechunk").exists()


# --- blosc sources: chunks scattered into the units from the decoder's pieces ---

def _smooth(shape, dtype):
    """Compressible data (so that blosc stores blocks, not a memcpyed frame), NaNs in floats."""
    x = np.round(np.sin(np.arange(np.prod(shape)) / 10.0) * 100).reshape(shape)
    x = x + np.arange(shape[-1]) % 3
    a = x.astype(dtype)
    if a.dtype.kind in "fc":
        a.flat[::11] = np.nan
    return a


def _blosc_blocksize(frame: bytes) -> tuple[int, int]:
    import struct
    nbytes, blocksize, _ = struct.unpack("<III", frame[4:16])
    return nbytes, blocksize


# lsio's blosc decoder hands a chunk over block by block; a block may end inside a row or, with
# a block size that is no multiple of the element size, inside an element. (numcodecs writes the
# frames, zarr-python the reference; rows of 23 elements, units that split them into runs.)
@pytest.mark.parametrize("dtype,cname,shuffle,typesize,blocksize", [
    ("float64", "zstd", 1, 4, 140),     # 140-byte blocks: pieces end inside elements and rows
    ("int16", "zstd", 1, 1, 1000),
    ("complex64", "zstd", 2, 4, 1000),  # bit shuffle
    ("float32", "lz4", 1, None, 0),     # blosc's own choice: one block per chunk here
])
def test_blosc_source_pieces_split_rows_and_elements(tmp_path, dtype, cname, shuffle, typesize,
                                                     blocksize):
    import numcodecs
    shape = (30, 17, 23)
    data = _smooth(shape, dtype)
    data[9:16] = 0  # whole chunks of fill value: not stored
    src = tmp_path / "src.zarr"
    g = zarr.open_group(str(src), mode="w", zarr_format=2)
    comp = numcodecs.Blosc(cname=cname, clevel=5, shuffle=shuffle, blocksize=blocksize,
                           typesize=typesize)
    a = g.create_array("a", shape=shape, dtype=data.dtype, chunks=(7, 9, 23), fill_value=0,
                       compressors=comp)
    a[...] = data
    a.attrs["_ARRAY_DIMENSIONS"] = ["t", "y", "x"]
    nbytes, block = _blosc_blocksize((src / "a" / "0.0.0").read_bytes())
    assert block == (blocksize or nbytes)  # the frames are what the case says
    for out_chunks in [(30, 4, 5), (11, 17, 23), (3, 2, 23)]:
        dst = tmp_path / f"dst-{'-'.join(map(str, out_chunks))}.zarr"
        lsio.rechunk(src, dst, dict(zip("tyx", out_chunks)), codec="zstd:1",
                     max_memory="64MiB", as_dataset=False)
        out = zarr.open_group(str(dst), mode="r")["a"]
        assert out.chunks == out_chunks
        assert out[...].tobytes() == data.tobytes(), out_chunks


# Written blosc frames: for zstd at levels 1-3 with the block size left to the encoder, lsio
# asks for 256 KiB blocks (c-blosc's own choice there is 32-128 KiB, where zstd is ~1.7x slower
# to encode); otherwise c-blosc's choice or the one given. numcodecs (c-blosc) reads them all
# back and is the reference for what "c-blosc's choice" is.
@pytest.mark.parametrize("codec,expect_block", [
    ("blosc:zstd:1:shuffle", 256 << 10),
    ("blosc:zstd:3:bitshuffle", 256 << 10),
    ("blosc:zstd:5:shuffle", None),   # c-blosc's choice
    ("blosc:lz4:1:shuffle", None),
])
def test_written_blosc_zstd_frames_use_quarter_mebibyte_blocks(tmp_path, codec, expect_block):
    import numcodecs
    shape = (64, 64, 128)  # chunks of 2 MiB of float32 (64x64x128)
    data = _smooth(shape, "float32")
    src = tmp_path / "src.zarr"
    g = zarr.open_group(str(src), mode="w", zarr_format=2)
    a = g.create_array("a", shape=shape, dtype="float32", chunks=(8, 64, 128), fill_value=0)
    a[...] = data
    a.attrs["_ARRAY_DIMENSIONS"] = ["t", "y", "x"]
    dst = tmp_path / "dst.zarr"
    lsio.rechunk(src, dst, {"t": 64, "y": 64, "x": 128}, codec=codec, max_memory="64MiB",
                 as_dataset=False)
    frame = (dst / "a" / "0.0.0").read_bytes()
    nbytes, block = _blosc_blocksize(frame)
    assert nbytes == data.nbytes
    _, cname, level, shuffle = codec.split(":")
    ref = numcodecs.Blosc(cname=cname, clevel=int(level),
                          shuffle={"shuffle": 1, "bitshuffle": 2}[shuffle], blocksize=0)
    if expect_block is None:
        expect_block = _blosc_blocksize(ref.encode(data))[1]
    assert block == expect_block
    assert np.frombuffer(ref.decode(frame), dtype="float32").tobytes() == data.tobytes()
    meta = json.loads((dst / "a" / ".zarray").read_text())["compressor"]
    assert meta["blocksize"] == 0  # the metadata keeps what it was given


# A small budget: blocks of units that take part of each chunk's rows, so the decoder skips the
# blosc blocks (1004 bytes: some end inside an element) the block of units does not need.
def test_blosc_blocks_outside_a_block_of_units_are_skipped(cli, tmp_path):
    import numcodecs
    shape = (64, 256, 256)
    data = _smooth(shape, "float64")
    src = tmp_path / "src.zarr"
    g = zarr.open_group(str(src), mode="w", zarr_format=2)
    a = g.create_array("a", shape=shape, dtype="float64", chunks=(8, 256, 256), fill_value=0,
                       compressors=numcodecs.Blosc("zstd", 1, 1, blocksize=1004, typesize=4))
    a[...] = data
    a.attrs["_ARRAY_DIMENSIONS"] = ["t", "y", "x"]
    args = ["--chunks", "t=64,y=16,x=16", "--codec", "zstd:1", "--max-memory", "40MiB"]
    plan = cli.run("rechunk", src, tmp_path / "plan.zarr", *args, "--dry-run").stdout
    # The first pass's blocks of units each take part of a chunk (two stages at this budget).
    first = plan.split("a (t, y, x)")[1].split("\n")[2]
    assert "source chunks decoded" in first and "(1.00x)" not in first, plan
    cli.run("rechunk", src, tmp_path / "dst.zarr", *args, "--quiet")
    out = zarr.open_group(str(tmp_path / "dst.zarr"), mode="r")["a"]
    assert out[...].tobytes() == data.tobytes()


# Staging is weighed against decoding chunks once per block: a blosc source passes over the
# rows a block does not take, so one pass that decodes each chunk for 4 blocks along y costs
# its reads but about one decoding and wins; a zstd source decodes each chunk whole for every
# block, and the same job goes through an intermediate store.
def test_one_pass_when_the_source_skips_rows_two_stages_when_it_cannot(cli, tmp_path):
    import numcodecs
    shape = (64, 192, 256)
    data = _smooth(shape, "float32")
    plans = {}
    for name, comp in [("blosc", numcodecs.Blosc("zstd", 1, 1)), ("zstd", numcodecs.Zstd(1))]:
        src = tmp_path / f"{name}.zarr"
        g = zarr.open_group(str(src), mode="w", zarr_format=2)
        a = g.create_array("a", shape=shape, dtype="float32", chunks=(8, 192, 256),
                           compressors=comp, fill_value=0)
        a[...] = data
        a.attrs["_ARRAY_DIMENSIONS"] = ["t", "y", "x"]
        args = ["--chunks", "t=64,y=16,x=16", "--codec", "zstd:1", "--max-memory", "24MiB"]
        plans[name] = cli.run("rechunk", src, tmp_path / "p.zarr", *args, "--dry-run").stdout
        cli.run("rechunk", src, tmp_path / f"{name}-out.zarr", *args, "--quiet")
        out = zarr.open_group(str(tmp_path / f"{name}-out.zarr"), mode="r")["a"]
        assert out.chunks == (64, 16, 16)
        assert out[...].tobytes() == data.tobytes()
    assert ", 1 stage," in plans["blosc"] and "(4.00x)" in plans["blosc"], plans["blosc"]
    assert ", 2 stages," in plans["zstd"], plans["zstd"]


def test_plan_counts_the_local_store_read_ahead_two_blocks_of_shards_in_flight(cli, tmp_path):
    """The plan gives reads in flight what a local store reads ahead (32 MiB), not 64 MiB:
    at 1 GiB, 64 MiB shards of 2q's shape leave room for two 256 MiB blocks in flight (one
    when 64 MiB was assumed), and the projected peak stays within the budget. Only metadata
    is needed for --dry-run: the array has no chunks."""
    src = tmp_path / "s.zarr"
    g = zarr.open_group(str(src), mode="w", zarr_format=2)
    a = g.create_array("t2m", shape=(256, 720, 1440), dtype="float32", chunks=(8, 512, 512),
                       fill_value=0)
    a.attrs["_ARRAY_DIMENSIONS"] = ["time", "lat", "lon"]
    plan = cli.run("rechunk", src, tmp_path / "o.zarr", "--chunks", "time=-1,lat=32,lon=32",
                   "--shards", "time=-1,lat=256,lon=256", "--format", "3", "--max-memory",
                   "1GiB", "--dry-run").stdout
    assert "(256x512x512, 256.0 MiB, 2 in flight)" in plan, plan
    peak = re.search(r"projected peak memory ([0-9.]+) (MiB|GiB)", plan)
    assert peak and float(peak[1]) * (1 if peak[2] == "MiB" else 1024) <= 1024, plan


def test_blosc_chunk_corrupt_half_way_is_named_and_no_unit_needing_it_is_written(tmp_path):
    import numcodecs
    shape = (8, 16, 64)
    data = _smooth(shape, "float32")
    src = tmp_path / "src.zarr"
    g = zarr.open_group(str(src), mode="w", zarr_format=2)
    a = g.create_array("a", shape=shape, dtype="float32", chunks=(4, 16, 64), fill_value=0,
                       compressors=numcodecs.Blosc("zstd", 5, 1, blocksize=1024))
    a[...] = data
    a.attrs["_ARRAY_DIMENSIONS"] = ["t", "y", "x"]
    # The last block's start (the frame's block offsets follow its 16-byte header) now points
    # past the end: the blocks before it decode and are handed over, then the frame fails.
    path = src / "a" / "1.0.0"
    frame = bytearray(path.read_bytes())
    nbytes, block = _blosc_blocksize(bytes(frame))
    assert block == 1024
    last = 16 + 4 * (nbytes // block - 1)
    frame[last:last + 4] = (len(frame) + 100).to_bytes(4, "little")
    path.write_bytes(bytes(frame))
    dst = tmp_path / "dst.zarr"
    with pytest.raises(Exception) as err:
        lsio.rechunk(src, dst, {"t": 8, "y": 4, "x": 8}, codec="zstd:1", max_memory="64MiB",
                     threads=1, as_dataset=False)
    assert "1.0.0" in str(err.value), str(err.value)
    # Every unit needs the corrupt chunk (time is whole in each): none was written.
    assert not list((dst / "a").glob("[0-9]*")) if (dst / "a").exists() else True


# --- an xarray dataset with CF encoding, coordinates and attributes ---

@pytest.fixture(scope="module")
def climate(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("climate")
    rng = np.random.default_rng(1)
    t = np.arange(40)
    ds = xr.Dataset(
        {
            "t2m": (("time", "lat", "lon"), (rng.standard_normal((40, 18, 24)) * 10 + 280)
                    .astype("float32"), {"units": "K", "long_name": "temperature"}),
            "pr": (("time", "lat", "lon"), rng.random((40, 18, 24)), {"units": "mm"}),
            "mask": (("lat", "lon"), rng.integers(0, 2, (18, 24)).astype("int8")),
        },
        coords={
            "time": ("time", np.datetime64("2000-01-01") + t.astype("timedelta64[D]")),
            "lat": ("lat", np.linspace(-85, 85, 18)),
            "lon": ("lon", np.linspace(0, 345, 24)),
        },
        attrs={"title": "rechunk test", "source": "numpy"},
    )
    ds["t2m"][3:9, 2:5, :] = np.nan
    ds["pr"][0, 0, :5] = np.nan
    out = {}
    for fmt in (2, 3):
        path = tmp / f"v{fmt}.zarr"
        ds.to_zarr(path, zarr_format=fmt, consolidated=True,
                   encoding={"t2m": {"chunks": (4, 18, 24)},
                             "pr": {"chunks": (4, 18, 24), "scale_factor": 0.001,
                                    "add_offset": 0.0, "dtype": "int16", "_FillValue": -9999}})
        out[fmt] = path
    return out


@pytest.mark.parametrize("src_fmt,out_fmt", [(3, 3), (2, 2), (2, 3), (3, 2)])
def test_xarray_dataset_identical_with_new_chunks(climate, tmp_path, src_fmt, out_fmt):
    src = climate[src_fmt]
    dst = tmp_path / "ts.zarr"
    got = lsio.rechunk(src, dst, {"time": 40, "lat": 6, "lon": 8}, zarr_format=out_fmt)
    want = xr.open_zarr(src)
    xr.testing.assert_identical(got.load(), want.load())
    assert got["t2m"].encoding["chunks"] == (40, 6, 8)
    assert got["pr"].encoding["chunks"] == (40, 6, 8)
    assert got["pr"].encoding["dtype"] == np.dtype("int16")
    assert got["mask"].encoding["chunks"] == (6, 8)
    # The raw stored integers too: CF encoding is kept, not decoded and re-encoded.
    raw_src = xr.open_zarr(src, mask_and_scale=False)["pr"].values
    raw_dst = xr.open_zarr(dst, mask_and_scale=False)["pr"].values
    assert raw_src.tobytes() == raw_dst.tobytes()


def test_cli_dry_run_var_and_shards(cli, climate, tmp_path):
    dst = tmp_path / "s.zarr"
    proc = cli.run("rechunk", climate[3], dst, "--chunks", "time=40,lat=3,lon=4", "--shards",
                   "lat=6,lon=8", "--var", "t2m", "--dry-run")
    assert "t2m" in proc.stdout and "40x3x4" in proc.stdout and "shards 40x6x8" in proc.stdout
    assert "  pr (" not in proc.stdout
    assert not dst.exists()
    cli.run("rechunk", climate[3], dst, "--chunks", "time=40,lat=3,lon=4", "--shards",
            "lat=6,lon=8", "--var", "t2m", "--quiet")
    got = xr.open_zarr(dst)
    assert set(got.data_vars) == {"t2m"}
    assert set(got.coords) == {"time", "lat", "lon"}
    a = zarr.open_group(str(dst), mode="r")["t2m"]
    assert a.chunks == (40, 3, 4) and a.shards == (40, 6, 8)
    xr.testing.assert_identical(got["t2m"].load(), xr.open_zarr(climate[3])["t2m"].load())


@pytest.mark.parametrize("args,message", [
    (["--chunks", "time=40", "--max-memory", "64KiB"], "too small: at least"),
    (["--chunks", "height=3"], "no variable has a dimension 'height'"),
    (["--chunks", "time=0"], "expected DIM=N"),
    (["--chunks", "time=40", "--shards", "lat=5"], "not a multiple"),
    (["--chunks", "time=40", "--format", "2", "--shards", "lat=18"], "Zarr v2 has no shards"),
    (["--chunks", "time=40", "--codec", "snappy"], "snappy"),
])
def test_cli_refusals(cli, climate, tmp_path, args, message):
    dst = tmp_path / "x.zarr"
    proc = cli.run("rechunk", climate[3], dst, *args, "--quiet", check=False)
    assert proc.returncode == 1
    assert message in proc.stderr, proc.stderr
    assert not dst.exists()


def test_cli_write_error_is_clear(cli, climate, tmp_path):
    (tmp_path / "file").write_text("x")
    dst = tmp_path / "file" / "x.zarr"
    proc = cli.run("rechunk", climate[3], dst, "--chunks", "time=40", "--quiet", check=False)
    assert proc.returncode == 1
    assert str(tmp_path / "file") in proc.stderr, proc.stderr


def test_a_bare_root_array_is_refused_naming_the_source(cli, tmp_path):
    # zarr-python writes a single array at the root of its store (no group): rechunk writes a
    # group of named arrays, and says so up front, naming the source, with nothing written.
    src = tmp_path / "bare.zarr"
    z = zarr.create_array(str(src), shape=(16, 8), chunks=(4, 8), dtype="f4", zarr_format=2)
    z[...] = np.arange(128, dtype="f4").reshape(16, 8)
    dst = tmp_path / "x.zarr"
    proc = cli.run("rechunk", src, dst, "--chunks", "dim_0=16,dim_1=2", "--quiet", check=False)
    assert proc.returncode == 1
    assert str(src) in proc.stderr and "single array at the root" in proc.stderr, proc.stderr
    assert not dst.exists()


def test_existing_destination_is_refused_untouched(cli, climate, tmp_path):
    dst = tmp_path / "x.zarr"
    dst.mkdir()
    (dst / "keep").write_text("mine")
    proc = cli.run("rechunk", climate[3], dst, "--chunks", "time=40", "--quiet", check=False)
    assert proc.returncode == 1 and "already exists" in proc.stderr
    assert [p.name for p in dst.iterdir()] == ["keep"]


# --- SIGKILL, then --resume ---

@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """32 MiB of float32 in time chunks: a run long enough to be killed midway."""
    path = tmp_path_factory.mktemp("big") / "big.zarr"
    rng = np.random.default_rng(5)
    g = zarr.open_group(str(path), mode="w", zarr_format=3)
    a = g.create_array("v", shape=(128, 256, 256), dtype="float32", chunks=(8, 256, 256),
                       dimension_names=["time", "y", "x"], compressors=None, fill_value=0)
    a[...] = rng.standard_normal((128, 256, 256)).astype("float32")
    return path


# The child's peak RSS measured from a lean parent (ru_maxrss starts from the parent's size at
# fork), as bench/rechunk/run.py does.
from peak_rss import LAUNCHER as _LAUNCHER  # noqa: E402


@pytest.mark.parametrize("budget_mib", [24, 48])
def test_peak_rss_stays_within_the_budget_plus_overhead(lsio_bin, big, tmp_path, budget_mib):
    out = subprocess.run(
        [sys.executable, "-S", "-c", _LAUNCHER, str(lsio_bin), "rechunk", str(big),
         str(tmp_path / "o.zarr"), "--chunks", "time=128,y=16,x=16", "--max-memory",
         f"{budget_mib}MiB", "--quiet"], capture_output=True, text=True, check=True).stdout
    code, peak = map(int, out.split())
    assert code == 0
    # The stated fixed overhead: 32 MiB (the binary, its libraries and thread stacks: ~15 MiB).
    assert peak <= (budget_mib + 32) << 20, f"peak RSS {peak / 2**20:.0f} MiB"


@pytest.fixture(scope="module")
def quarter_gib(tmp_path_factory):
    """256 MiB of float32 in 8 MiB time chunks (random: no compression helps)."""
    path = tmp_path_factory.mktemp("quarter") / "q.zarr"
    rng = np.random.default_rng(6)
    g = zarr.open_group(str(path), mode="w", zarr_format=2)
    a = g.create_array("v", shape=(256, 512, 512), dtype="float32", chunks=(8, 512, 512),
                       compressors=None, fill_value=0)
    a.attrs["_ARRAY_DIMENSIONS"] = ["time", "y", "x"]
    for t in range(0, 256, 8):
        a[t:t + 8] = rng.standard_normal((8, 512, 512)).astype("float32")
    return path


@pytest.mark.parametrize("case", ["two-stage", "sharded"])
def test_peak_rss_within_the_budget_plus_64_mib_at_larger_budgets(lsio_bin, quarter_gib, tmp_path,
                                                                  case):
    """Two-stage plans (a time column of the output, 256 MiB, does not fit the budget), one
    writing chunks and one writing a sharded v3 output (16 MiB shards): peak RSS of the whole
    process within the budget plus the stated overhead of 64 MiB; the output equals the
    source."""
    budget = {"two-stage": 96, "sharded": 160}[case]
    args = [str(lsio_bin), "rechunk", str(quarter_gib), str(tmp_path / "o.zarr"), "--chunks",
            "time=256,y=32,x=32", "--codec", "blosc:zstd:1:shuffle", "--max-memory",
            f"{budget}MiB", "--quiet"]
    if case == "sharded":
        args += ["--format", "3", "--shards", "y=128,x=128"]
    plan = subprocess.run([*args, "--dry-run"], capture_output=True, text=True,
                          check=True).stdout
    # Both plan two stages at these budgets (the sharded one: its second stage writes shards).
    assert "2 stages" in plan, plan
    assert ("shards 256x128x128" in plan) == (case == "sharded"), plan
    out = subprocess.run([sys.executable, "-S", "-c", _LAUNCHER, *args], capture_output=True,
                         text=True, check=True).stdout
    code, peak = map(int, out.split())
    assert code == 0
    assert peak <= (budget + 64) << 20, f"peak RSS {peak / 2**20:.0f} MiB under {budget} MiB"
    want = zarr.open_group(str(quarter_gib), mode="r")["v"]
    got = zarr.open_group(str(tmp_path / "o.zarr"), mode="r")["v"]
    for t in range(0, 256, 64):
        assert got[t:t + 64].tobytes() == want[t:t + 64].tobytes()


def test_sigkill_then_resume_is_identical_and_redoes_nothing_journaled(lsio_bin, big, tmp_path):
    args = ["rechunk", str(big), "--chunks", "time=128,y=16,x=16", "--codec", "zstd:1",
            "--threads", "1", "--max-memory", "24MiB", "--quiet"]
    plan = subprocess.run([str(lsio_bin), *args[:2], str(tmp_path / "x"), *args[2:], "--dry-run"],
                          capture_output=True, text=True, check=True).stdout
    assert "2 stages" in plan  # both stages are interrupted and resumed
    ref = tmp_path / "ref.zarr"
    subprocess.run([str(lsio_bin), *args[:2], str(ref), *args[2:]], check=True, timeout=300)
    dst = tmp_path / "dst.zarr"
    journal = dst / ".lsio-rechunk" / "journal"
    killed = 0
    finished = {}  # units the journal recorded when a run was killed -> their inode
    done = False
    for attempt in range(3):
        extra = ["--resume"] if attempt > 0 else []
        seen = len(list(journal.glob("*"))) if journal.exists() else 0
        proc = subprocess.Popen([str(lsio_bin), *args[:2], str(dst), *args[2:], *extra])
        deadline = time.time() + 60
        while time.time() < deadline and proc.poll() is None:
            if journal.exists() and len(list(journal.glob("*"))) > seen:
                break
            time.sleep(0.01)
        if proc.poll() is not None:
            assert proc.returncode == 0
            done = True
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed += 1
        # Never a store that looks complete.
        assert not (dst / "zarr.json").exists()
        with pytest.raises(Exception):
            xr.open_zarr(dst)
        for entry in journal.glob("*"):
            if entry.name.startswith("."):
                # A journal entry being written when the run was killed (a temporary name that
                # was never renamed): lsio does not count it, so neither does the test.
                continue
            for line in entry.read_text().splitlines():
                _, u = map(int, line.split())
                key = dst / "v" / "c" / str(u // 256) / str(u // 16 % 16) / str(u % 16)
                finished.setdefault(key, key.stat().st_ino)
    assert killed >= 1, "the run ended before it could be killed"
    assert finished
    if not done:
        proc = subprocess.run([str(lsio_bin), *args[:2], str(dst), *args[2:], "--resume"],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
    # Units the journal recorded as finished were not written again.
    for key, ino in finished.items():
        assert key.stat().st_ino == ino, f"{key} was rewritten"
    assert not (dst / ".lsio-rechunk").exists()
    assert _chunk_files(dst) == _chunk_files(ref)
    assert zarr.open_group(str(dst), mode="r")["v"][...].tobytes() == \
        zarr.open_group(str(big), mode="r")["v"][...].tobytes()


def test_grib_source_equals_cfgrib(tmp_path):
    """A GRIB2 file rechunked into Zarr: the values and coordinates cfgrib reads."""
    pytest.importorskip("cfgrib")  # a development tool (requirements/dev.txt)
    from conftest import FIXTURES  # the shared fixtures' zarrs/ directory

    grib = FIXTURES.parent / "grib" / "gfs_0p25_rh_constant.grib2"
    want = xr.open_dataset(grib, engine="cfgrib", backend_kwargs={"indexpath": ""})
    dst = tmp_path / "g.zarr"
    lsio.rechunk(grib, dst, {"latitude": 100, "longitude": 128}, as_dataset=False)
    got = xr.open_zarr(dst, group="isobaricInPa/instant")
    assert got["r"].encoding["chunks"] == (100, 128)
    assert got["r"].values.tobytes() == want["r"].values.tobytes()
    for c in ("latitude", "longitude", "time", "step", "valid_time"):
        np.testing.assert_array_equal(got[c].values, want[c].values)
