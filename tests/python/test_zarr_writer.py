"""lsio's Zarr writer (format/zarr/writer.h, hierarchy_writer.h) checked against the peers:
every store written here by build/tests/zarr_write_tool is read back with zarr-python 3,
TensorStore and xarray and compared with the numpy data it was written from; the metadata
documents are compared with the ones zarr-python writes for the same array; the shard layout
is decoded with numpy."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest
import tensorstore as ts
import xarray as xr
import zarr

from conftest import build_dir

warnings.filterwarnings("ignore", category=UserWarning)  # zarr-python's v3 consolidated notes

DTYPES = ["bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
          "float16", "float32", "float64", "complex64", "complex128"]

# Their references are zarr-python >= 3.1 / numpy 2 / current xarray (see pyproject.toml).
pytestmark = pytest.mark.dev_references


@pytest.fixture(scope="session")
def tool() -> Path:
    exe = build_dir() / "tests" / "zarr_write_tool"
    if not exe.exists():
        pytest.fail(f"{exe} is missing: run `make build` first")
    return exe


def random_data(dtype: str, shape, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt.kind == "b":
        return rng.random(shape) > 0.5
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return rng.integers(info.min, info.max, size=shape, dtype=dt, endpoint=True)
    if dt.kind == "c":
        part = np.dtype(f"f{dt.itemsize // 2}")
        return (rng.standard_normal(shape).astype(part) +
                1j * rng.standard_normal(shape).astype(part)).astype(dt)
    if dt.kind == "M" or dt.kind == "m":
        return rng.integers(0, 10**18, size=shape).astype("i8").view(dt)
    return (rng.standard_normal(shape) * 100).astype(dt)


def write(tool: Path, store: Path, arrays: list[dict], fmt: int = 3, check: bool = True,
          **request) -> subprocess.CompletedProcess:
    """Writes `arrays` (each with a "data" numpy array) with zarr_write_tool."""
    store.parent.mkdir(parents=True, exist_ok=True)
    reqs = []
    for i, a in enumerate(arrays):
        a = dict(a)
        data = np.asarray(a.pop("data"))
        raw = store.parent / f"{store.name}.input{i}.bin"
        native = data.dtype.newbyteorder("=") if data.dtype.byteorder not in "=|" else data.dtype
        raw.write_bytes(data.astype(native).tobytes())
        a.setdefault("dtype", data.dtype.name if data.dtype.kind not in "MmU" else data.dtype.str)
        a.setdefault("shape", list(data.shape))
        a["input"] = str(raw)
        reqs.append(a)
    req = {"store": str(store), "format": fmt, "arrays": reqs, **request}
    req_path = store.parent / f"{store.name}.request.json"
    req_path.write_text(json.dumps(req))
    proc = subprocess.run([str(tool), str(req_path)], capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"zarr_write_tool failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def read_zarr_python(store: Path, name: str) -> np.ndarray:
    return zarr.open_array(store=str(store), path=name, mode="r")[...]


def read_tensorstore(store: Path, name: str, fmt: int) -> np.ndarray:
    spec = {"driver": "zarr3" if fmt == 3 else "zarr",
            "kvstore": {"driver": "file", "path": str(store / name) + "/"}}
    return ts.open(spec, open=True, read=True).result().read().result()


def assert_same(got: np.ndarray, want: np.ndarray, what: str):
    assert got.shape == want.shape, what
    assert got.dtype.newbyteorder("=") == want.dtype.newbyteorder("="), \
        f"{what}: {got.dtype} vs {want.dtype}"
    np.testing.assert_array_equal(got, want, err_msg=what)
    if want.dtype.kind in "fc":
        # NaN-aware equality says nothing about signed zeros: compare the sign bits too.
        for part in ((want.real, got.real), (want.imag, got.imag)) if want.dtype.kind == "c" \
                else ((want, got),):
            np.testing.assert_array_equal(np.signbit(part[1]), np.signbit(part[0]),
                                          err_msg=what + " (sign bits)")


def chunk_files(array_dir: Path) -> set[str]:
    return {str(p.relative_to(array_dir)) for p in array_dir.rglob("*")
            if p.is_file() and not p.name.startswith(".z") and p.name != "zarr.json"}


def all_fill(block: np.ndarray, fill) -> bool:
    """write_empty_chunks=False as lsio applies it: a NaN fill value matches any NaN,
    anything else compares bitwise (so -0.0 is not the fill value 0.0)."""
    f = np.asarray(fill, dtype=block.dtype)
    if block.dtype.kind == "c":
        return all_fill(block.real, f.real) and all_fill(block.imag, f.imag)
    if block.dtype.kind == "f" and np.isnan(f):
        return bool(np.isnan(block).all())
    if block.dtype.kind == "f":
        u = np.dtype(f"u{block.dtype.itemsize}")
        return bool((block.view(u) == f.view(u)).all())
    return bool((block == f).all())


def expected_keys(data: np.ndarray, chunks, fill, fmt: int, sep: str | None = None) -> set[str]:
    """The chunk keys that hold an element other than the fill value."""
    keys = set()
    grid = [-(-s // c) for s, c in zip(data.shape, chunks)]
    for idx in np.ndindex(*grid):
        block = data[tuple(slice(i * c, (i + 1) * c) for i, c in zip(idx, chunks))]
        if all_fill(block, fill):
            continue
        if fmt == 3:
            keys.add("/".join(["c", *map(str, idx)]) if (sep or "/") == "/"
                     else ".".join(["c", *map(str, idx)]))
        else:
            keys.add((sep or ".").join(map(str, idx)) if idx else "0")
    return keys


# --- data types, edge chunks, fill-value chunks ------------------------------------------------

@pytest.mark.parametrize("fmt", [2, 3])
@pytest.mark.parametrize("dtype", DTYPES)
def test_every_dtype_with_edge_and_fill_chunks(tool, tmp_path, fmt, dtype):
    data = random_data(dtype, (13, 7), seed=DTYPES.index(dtype))
    fill = np.zeros((), dtype)[()]
    if np.dtype(dtype).kind == "f":
        fill = np.array(np.nan, dtype)[()]
    data[4:8, 3:6] = fill        # one interior chunk (1, 1) all fill value: not stored
    data[12:, 6:] = fill         # the corner edge chunk (3, 2) too
    fill_json = None if fmt == 2 and dtype != "float32" else fill.item()
    if isinstance(fill_json, complex):
        fill_json = [fill_json.real, fill_json.imag]
    if isinstance(fill_json, float) and np.isnan(fill_json):
        fill_json = "NaN"
    store = tmp_path / "a.zarr"
    write(tool, store, [{"path": "v", "data": data, "chunks": [4, 3], "codecs": "zstd:3",
                         "fill_value": fill_json}], fmt=fmt)
    assert_same(read_zarr_python(store, "v"), data, "zarr-python")
    assert_same(read_tensorstore(store, "v", fmt), data, "tensorstore")
    # A null v2 fill value reads as zeros: only chunks of zeros are left out.
    effective = np.zeros((), dtype)[()] if fill_json is None else fill
    assert chunk_files(store / "v") == expected_keys(data, (4, 3), effective, fmt)


@pytest.mark.parametrize("fmt", [2, 3])
def test_datetime_and_timedelta(tool, tmp_path, fmt):
    t = (np.datetime64("2000-01-01T00:00", "ns") +
         np.arange(20).astype("m8[h]").astype("m8[ns]"))
    t[3] = np.datetime64("NaT")
    d = np.arange(-5, 5).astype("m8[s]")
    store = tmp_path / "t.zarr"
    write(tool, store, [{"path": "time", "data": t, "chunks": [6], "dimension_names": ["time"]},
                        {"path": "dt", "data": d, "chunks": [4], "dimension_names": ["d"],
                         "fill_value": "NaT" if fmt == 3 else None}],
          fmt=fmt)
    assert_same(read_zarr_python(store, "time"), t, "zarr-python time")
    assert_same(read_zarr_python(store, "dt"), d, "zarr-python timedelta")
    ds = xr.open_zarr(store, decode_timedelta=True)
    np.testing.assert_array_equal(ds["time"].values, t)
    np.testing.assert_array_equal(ds["d"].values, np.arange(10))  # a dimension without coordinate
    np.testing.assert_array_equal(ds["dt"].values, d)
    # TensorStore reads no datetime64 (v2 "<M8[ns]" and v3 numpy.datetime64 both refused).


@pytest.mark.parametrize("fmt", [2, 3])
@pytest.mark.parametrize("codecs", ["none", "zstd:3", "blosc:lz4:5:shuffle"])
def test_fixed_length_strings(tool, tmp_path, fmt, codecs):
    """numpy "<U" strings (what --groupby time.season labels are): zarr-python and xarray read
    them back; chunks of empty strings (the fill value) are not stored. (TensorStore
    reads no fixed-length UTF-32 type.)"""
    season = np.array(["DJF", "MAM", "JJA", "SON", "", "", "é€😀", "a"], dtype="<U3")
    store = tmp_path / "u.zarr"
    write(tool, store, [{"path": "season", "data": season, "chunks": [2],
                         "dimension_names": ["season"], "codecs": codecs,
                         "attributes": {"long_name": "season"}}], fmt=fmt)
    got = read_zarr_python(store, "season")
    assert got.dtype == np.dtype("<U3")
    np.testing.assert_array_equal(got, season)
    np.testing.assert_array_equal(xr.open_zarr(store)["season"].values, season)
    # v2's null fill value reads as zeros, i.e. "": the chunk of "" is left out there too.
    expected = {"c/0", "c/1", "c/3"} if fmt == 3 else {"0", "1", "3"}
    assert chunk_files(store / "season") == expected
    meta = json.loads((store / "season" / ("zarr.json" if fmt == 3 else ".zarray")).read_text())
    if fmt == 3:
        assert meta["data_type"] == {"name": "fixed_length_utf32",
                                     "configuration": {"length_bytes": 12}}
        assert meta["fill_value"] == ""
    else:
        assert meta["dtype"] == "<U3" and meta["fill_value"] is None


@pytest.mark.parametrize("fmt", [2, 3])
@pytest.mark.parametrize("shape,chunks", [((), ()), ((0, 5), (2, 2)), ((1,), (10,)),
                                          ((5, 4, 3), (2, 4, 1)), ((100,), (7,))])
def test_shapes(tool, tmp_path, fmt, shape, chunks):
    data = random_data("float64", shape, seed=3)
    store = tmp_path / "s.zarr"
    write(tool, store, [{"path": "v", "data": data, "chunks": list(chunks), "codecs": "gzip:1"}],
          fmt=fmt)
    assert_same(read_zarr_python(store, "v"), data, "zarr-python")
    assert_same(read_tensorstore(store, "v", fmt), data, "tensorstore")
    if shape == ():
        # xarray needs the (empty) dimension names of a 0-d array.
        np.testing.assert_array_equal(xr.open_zarr(store)["v"].values, data)


@pytest.mark.parametrize("fmt", [2, 3])
def test_big_endian_and_separators(tool, tmp_path, fmt):
    data = random_data("float64", (9, 4), seed=5)
    store = tmp_path / "be.zarr"
    sep = "/" if fmt == 2 else "."
    write(tool, store, [{"path": "v", "data": data, "chunks": [4, 4], "endian": "big",
                         "separator": sep, "codecs": "blosc:lz4:5:shuffle"},
                        {"path": "i", "data": random_data("int32", (9,), 6), "chunks": [4],
                         "endian": "big"}], fmt=fmt)
    assert_same(read_zarr_python(store, "v"), data, "zarr-python")
    assert_same(read_tensorstore(store, "v", fmt), data, "tensorstore")
    assert chunk_files(store / "v") == expected_keys(data, (4, 4), np.nan, fmt, sep)
    meta = json.loads((store / "v" / ("zarr.json" if fmt == 3 else ".zarray")).read_text())
    if fmt == 2:
        assert meta["dtype"] == ">f8"
    else:
        assert meta["codecs"][0] == {"name": "bytes", "configuration": {"endian": "big"}}


# --- codecs -----------------------------------------------------------------------------------

# (codec list, readers that support it). TensorStore's zarr (v2) driver takes no filters and no
# crc32c compressor; its zarr3 driver has no numcodecs.lz4.
CODECS = [
    ("none", {2: {"zarr", "ts"}, 3: {"zarr", "ts"}}),
    ("zstd:3", {2: {"zarr", "ts"}, 3: {"zarr", "ts"}}),
    ("zstd:-3", {2: {"zarr", "ts"}, 3: {"zarr", "ts"}}),
    ("gzip:6", {2: {"zarr", "ts"}, 3: {"zarr", "ts"}}),
    ("lz4", {2: {"zarr"}, 3: {"zarr"}}),
    ("blosc:lz4:5:shuffle", {2: {"zarr", "ts"}, 3: {"zarr", "ts"}}),
    ("blosc:zstd:3:bitshuffle", {2: {"zarr", "ts"}, 3: {"zarr", "ts"}}),
    ("blosc:blosclz:1:noshuffle", {2: {"zarr", "ts"}, 3: {"zarr", "ts"}}),
    ("blosc:zlib:9:shuffle", {2: {"zarr", "ts"}, 3: {"zarr", "ts"}}),
    ("crc32c", {2: {"zarr"}, 3: {"zarr", "ts"}}),
    ("zstd:3,crc32c", {2: {"zarr"}, 3: {"zarr", "ts"}}),
    ("gzip:1,zstd:1", {2: {"zarr"}, 3: {"zarr", "ts"}}),
]


@pytest.mark.parametrize("fmt", [2, 3])
@pytest.mark.parametrize("codecs,readers", CODECS, ids=[c for c, _ in CODECS])
@pytest.mark.parametrize("dtype", ["int16", "float32", "uint8"])
def test_codecs(tool, tmp_path, fmt, codecs, readers, dtype):
    data = random_data(dtype, (30, 17), seed=11)
    store = tmp_path / "c.zarr"
    write(tool, store, [{"path": "v", "data": data, "chunks": [8, 8], "codecs": codecs,
                         "fill_value": 0}], fmt=fmt)
    if "zarr" in readers[fmt]:
        assert_same(read_zarr_python(store, "v"), data, "zarr-python")
    if "ts" in readers[fmt]:
        assert_same(read_tensorstore(store, "v", fmt), data, "tensorstore")


# --- sharding ---------------------------------------------------------------------------------

def shard_index(path: Path, n_chunks: int, at_start: bool, checksum: bool) -> np.ndarray:
    """The (offset, nbytes) pairs of a shard file, decoded with numpy."""
    raw = path.read_bytes()
    size = 16 * n_chunks + (4 if checksum else 0)
    index = raw[:size] if at_start else raw[len(raw) - size:]
    return np.frombuffer(index[:16 * n_chunks], "<u8").reshape(-1, 2)


@pytest.mark.parametrize("mode", ["whole", "units", "chunks"])
@pytest.mark.parametrize("location", ["end", "start"])
@pytest.mark.parametrize("checksum", [True, False])
def test_sharding(tool, tmp_path, mode, location, checksum):
    data = random_data("float32", (21, 10), seed=7)
    data[0:4, 0:5] = np.nan         # inner chunk (0, 0) all fill value: an empty index entry
    data[16:21, :] = np.nan         # shard (1, *) rows 16..20: inner chunks all fill
    store = tmp_path / "sh.zarr"
    proc = write(tool, store, [{"path": "v", "data": data, "chunks": [4, 5], "shards": [8, 10],
                                "index_location": location, "index_checksum": checksum,
                                "codecs": "zstd:3", "fill_value": "NaN", "mode": mode,
                                "dimension_names": ["y", "x"]}])
    assert_same(read_zarr_python(store, "v"), data, "zarr-python")
    assert_same(read_tensorstore(store, "v", 3), data, "tensorstore")
    # Shards (0,0), (1,0) hold data; (2,0) covers rows 16..23 (array ends at 21): all NaN.
    assert chunk_files(store / "v") == {"c/0/0", "c/1/0"}
    if mode != "whole":
        assert json.loads(proc.stdout)["units_written"]["v"] == 2
    # The index lists exactly the inner chunks that are not all fill, in C order, packed.
    idx = shard_index(store / "v" / "c/0/0", 4, location == "start", checksum)
    empty = np.uint64(2**64 - 1)
    assert (idx[0] == [empty, empty]).all()
    present = [i for i in range(4) if idx[i][0] != empty]
    assert present == [1, 2, 3]
    offsets = [int(idx[i][0]) for i in present]
    assert offsets == sorted(offsets)
    first = (16 * 4 + (4 if checksum else 0)) if location == "start" else 0
    assert offsets[0] == first
    for a, b in zip(present, present[1:]):
        assert idx[a][0] + idx[a][1] == idx[b][0]


def test_sharding_edge_shards_and_codecs(tool, tmp_path):
    data = random_data("int64", (11, 9, 5), seed=9)
    store = tmp_path / "sh3.zarr"
    write(tool, store, [{"path": "v", "data": data, "chunks": [2, 3, 5], "shards": [4, 6, 5],
                         "codecs": "blosc:zstd:3:bitshuffle,crc32c", "fill_value": 0,
                         "mode": "chunks"}])
    assert_same(read_zarr_python(store, "v"), data, "zarr-python")
    assert_same(read_tensorstore(store, "v", 3), data, "tensorstore")
    assert chunk_files(store / "v") == {f"c/{i}/{j}/0" for i in range(3) for j in range(2)}


# --- metadata ---------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype,fill", [("float32", "NaN"), ("float64", "Infinity"),
                                        ("float16", "-Infinity"), ("int64", -5), ("bool", True),
                                        ("uint8", 7), ("complex64", [1.0, "NaN"]),
                                        ("float64", 0.1)])
@pytest.mark.parametrize("fmt", [2, 3])
def test_metadata_equals_zarr_pythons(tool, tmp_path, fmt, dtype, fill):
    """The documents lsio writes are the ones zarr-python writes for the same array."""
    data = random_data(dtype, (6, 5))
    store = tmp_path / "m.zarr"
    attrs = {"units": "K", "long_name": "temperature", "n": [1, 2.5, None], "flag": False}
    write(tool, store, [{"path": "v", "data": data, "chunks": [4, 3], "codecs": "zstd:3",
                         "fill_value": fill, "dimension_names": ["y", "x"],
                         "attributes": attrs}], fmt=fmt, consolidated=False)
    fill_py = complex(fill[0], float(fill[1])) if isinstance(fill, list) else \
        (float(fill) if isinstance(fill, str) else fill)
    ref = tmp_path / "ref.zarr"
    if fmt == 3:
        zarr.create_array(str(ref), name="v", shape=data.shape, chunks=(4, 3), dtype=dtype,
                          fill_value=fill_py, compressors=zarr.codecs.ZstdCodec(level=3),
                          dimension_names=["y", "x"], attributes=attrs, zarr_format=3)
        mine = json.loads((store / "v" / "zarr.json").read_text())
        theirs = json.loads((ref / "v" / "zarr.json").read_text())
        theirs.pop("storage_transformers", None)
        assert mine == theirs
    else:
        import numcodecs
        zarr.create_array(str(ref), name="v", shape=data.shape, chunks=(4, 3), dtype=dtype,
                          fill_value=fill_py, compressors=numcodecs.Zstd(level=3),
                          attributes={**attrs, "_ARRAY_DIMENSIONS": ["y", "x"]}, zarr_format=2)
        mine = json.loads((store / "v" / ".zarray").read_text())
        theirs = json.loads((ref / "v" / ".zarray").read_text())
        assert mine == theirs
        assert json.loads((store / "v" / ".zattrs").read_text()) == \
            json.loads((ref / "v" / ".zattrs").read_text())
    a = zarr.open_array(str(store), path="v", mode="r")
    np.testing.assert_array_equal(np.array(a.fill_value), np.array(fill_py, dtype))


def zarr_python_codecs(text: str, fmt: int):
    """zarr-python's spelling of one of our compression lists: (filters, compressors)."""
    import numcodecs
    from zarr.codecs import BloscCodec, Crc32cCodec, GzipCodec, ZstdCodec
    from zarr.codecs.numcodecs import LZ4
    v3 = {"zstd:5": [ZstdCodec(level=5)], "gzip:6,crc32c": [GzipCodec(level=6), Crc32cCodec()],
          "lz4:2": [LZ4(acceleration=2)],
          "blosc:lz4:7:bitshuffle": [BloscCodec(cname="lz4", clevel=7, shuffle="bitshuffle")],
          "none": None}
    v2 = {"zstd:5": ([], numcodecs.Zstd(level=5)),
          "gzip:6,crc32c": ([numcodecs.GZip(level=6)], numcodecs.CRC32C()),
          "lz4:2": ([], numcodecs.LZ4(acceleration=2)),
          "blosc:lz4:7:bitshuffle": ([], numcodecs.Blosc(cname="lz4", clevel=7, shuffle=2)),
          "none": ([], None)}
    return (None, v3[text]) if fmt == 3 else v2[text]


@pytest.mark.parametrize("fmt", [2, 3])
@pytest.mark.parametrize("codecs", ["zstd:5", "gzip:6,crc32c", "lz4:2", "blosc:lz4:7:bitshuffle",
                                    "none"])
@pytest.mark.parametrize("shards", [None, [4, 8]])
def test_codec_metadata_equals_zarr_pythons(tool, tmp_path, fmt, codecs, shards):
    if shards and fmt == 2:
        pytest.skip("no sharding in Zarr v2")
    data = random_data("float32", (10, 8))
    store = tmp_path / "m.zarr"
    write(tool, store, [{"path": "v", "data": data, "chunks": [2, 4], "shards": shards,
                         "codecs": codecs, "fill_value": 0}], fmt=fmt, consolidated=False)
    filters, compressors = zarr_python_codecs(codecs, fmt)
    ref = tmp_path / "ref.zarr"
    kwargs = dict(filters=filters) if fmt == 2 else {}
    a = zarr.create_array(str(ref), name="v", shape=data.shape, chunks=(2, 4), shards=shards,
                          dtype="float32", fill_value=0.0, compressors=compressors,
                          zarr_format=fmt, **kwargs)
    a[...] = data
    doc = "zarr.json" if fmt == 3 else ".zarray"
    mine = json.loads((store / "v" / doc).read_text())
    theirs = json.loads((ref / "v" / doc).read_text())
    theirs.pop("storage_transformers", None)
    if fmt == 2 and theirs["filters"] == []:
        theirs["filters"] = None
    assert mine == theirs
    # The same chunks: both sides hold the same keys (and, uncompressed, the same bytes).
    assert chunk_files(store / "v") == chunk_files(ref / "v")
    if codecs == "none" and not shards:
        for k in chunk_files(ref / "v"):
            assert (store / "v" / k).read_bytes() == (ref / "v" / k).read_bytes(), k


@pytest.mark.parametrize("fmt", [2, 3])
def test_nonfinite_attributes_as_python_writes_them(tool, tmp_path, fmt):
    store = tmp_path / "n.zarr"
    write(tool, store, [{"path": "v", "data": np.arange(4.0), "chunks": [2],
                         "attributes": {"valid_max": "test:Infinity", "missing": "test:NaN",
                                        "range": ["test:-Infinity", 1.5], "s": "NaN"}}],
          fmt=fmt)
    # zarr-python and xarray read the bare NaN / Infinity tokens Python's json module writes.
    attrs = dict(zarr.open_array(str(store), path="v", mode="r").attrs)
    assert attrs["valid_max"] == float("inf")
    assert np.isnan(attrs["missing"])
    assert attrs["range"] == [float("-inf"), 1.5]
    assert attrs["s"] == "NaN"


# --- hierarchies, consolidated metadata, xarray -----------------------------------------------

def dataset_arrays(fmt: int):
    time = np.datetime64("2001-02-03", "ns") + np.arange(10).astype("m8[D]").astype("m8[ns]")
    lat = np.linspace(-80, 80, 9)
    lon = np.arange(0, 360, 30.0)
    t2m = random_data("float32", (10, 9, 12), seed=1)
    t2m[0:5] = np.nan  # a run of all-NaN chunks: not stored
    counts = random_data("int32", (9, 12), seed=2)
    arrays = [
        {"path": "time", "data": time, "chunks": [10], "dimension_names": ["time"],
         "attributes": {"standard_name": "time"}},
        {"path": "lat", "data": lat, "chunks": [9], "dimension_names": ["lat"],
         "attributes": {"units": "degrees_north"}},
        {"path": "lon", "data": lon, "chunks": [12], "dimension_names": ["lon"],
         "attributes": {"units": "degrees_east"}},
        {"path": "t2m", "data": t2m, "chunks": [5, 9, 6], "dimension_names": ["time", "lat", "lon"],
         "fill_value": "NaN", "codecs": "zstd:3", "attributes": {"units": "K"}},
        {"path": "count", "data": counts, "chunks": [9, 12], "dimension_names": ["lat", "lon"]},
    ]
    if fmt == 3:
        arrays[3]["shards"] = [10, 9, 12]
    return arrays, dict(time=time, lat=lat, lon=lon, t2m=t2m, count=counts)


@pytest.mark.parametrize("fmt", [2, 3])
@pytest.mark.parametrize("consolidated", [True, False])
def test_xarray_dataset(tool, tmp_path, fmt, consolidated):
    arrays, values = dataset_arrays(fmt)
    store = tmp_path / "ds.zarr"
    write(tool, store, arrays, fmt=fmt, consolidated=consolidated,
          root_attributes={"title": "lsio writer test", "history": "written by lsio"})
    ds = xr.open_zarr(store, consolidated=consolidated)
    assert dict(ds.sizes) == {"time": 10, "lat": 9, "lon": 12}
    assert set(ds.coords) == {"time", "lat", "lon"}
    assert set(ds.data_vars) == {"t2m", "count"}
    assert ds["t2m"].dims == ("time", "lat", "lon")
    assert ds["count"].dims == ("lat", "lon")
    for name, want in values.items():
        got = ds[name].values
        if name == "count" and fmt == 2:
            # A v2 null fill value: xarray masks nothing, so the ints stay ints.
            assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want, err_msg=name)
    assert ds.attrs["title"] == "lsio writer test"
    assert ds["t2m"].attrs["units"] == "K"
    assert ds["lat"].attrs["units"] == "degrees_north"
    meta = store / (".zmetadata" if fmt == 2 else "zarr.json")
    if consolidated:
        if fmt == 2:
            zmeta = json.loads(meta.read_text())
            assert zmeta["zarr_consolidated_format"] == 1
            for a in ("time", "lat", "lon", "t2m", "count"):
                assert zmeta["metadata"][f"{a}/.zarray"] == \
                    json.loads((store / a / ".zarray").read_text())
        else:
            root = json.loads(meta.read_text())
            cm = root["consolidated_metadata"]
            assert cm["kind"] == "inline" and cm["must_understand"] is False
            for a in ("time", "lat", "lon", "t2m", "count"):
                assert cm["metadata"][a] == json.loads((store / a / "zarr.json").read_text())
    else:
        if fmt == 2:
            assert not meta.exists()
        else:
            assert "consolidated_metadata" not in json.loads(meta.read_text())


@pytest.mark.parametrize("fmt", [2, 3])
def test_nested_groups_consolidated(tool, tmp_path, fmt):
    a = random_data("uint16", (5, 6), 4)
    b = random_data("float64", (7,), 5)
    store = tmp_path / "g.zarr"
    write(tool, store, [{"path": "g1/sub/a", "data": a, "chunks": [2, 6]},
                        {"path": "g2/b", "data": b, "chunks": [3]}], fmt=fmt,
          groups=[{"path": "g1", "attributes": {"role": "first"}}],
          root_attributes={"top": 1})
    if fmt == 2:
        g = zarr.open_consolidated(str(store), mode="r", zarr_format=2)
    else:
        g = zarr.open_group(str(store), mode="r", use_consolidated=True)
        assert g.metadata.consolidated_metadata is not None
    assert dict(g.attrs) == {"top": 1}
    assert dict(g["g1"].attrs) == {"role": "first"}
    assert sorted(k for k, _ in g.members(max_depth=None)) == \
        sorted(["g1", "g1/sub", "g1/sub/a", "g2", "g2/b"])
    np.testing.assert_array_equal(g["g1/sub/a"][...], a)
    np.testing.assert_array_equal(g["g2/b"][...], b)
    # Every intermediate group exists on its own too (not only in the consolidated metadata).
    for p in ("g1", "g1/sub", "g2"):
        assert (store / p / (".zgroup" if fmt == 2 else "zarr.json")).exists(), p


# --- atomic publication -----------------------------------------------------------------------

def test_nothing_visible_without_commit(tool, tmp_path):
    store = tmp_path / "abort.zarr"
    write(tool, store, [{"path": "v", "data": np.arange(1000.0), "chunks": [10]}],
          abort_after_arrays=True, batch_bytes=100)
    assert not store.exists()
    assert not any(p.name.startswith("abort.zarr") and p.is_dir() for p in tmp_path.iterdir())


def test_existing_store_kept_unless_replace(tool, tmp_path):
    store = tmp_path / "x.zarr"
    first = np.arange(10.0)
    write(tool, store, [{"path": "v", "data": first, "chunks": [5]}])
    proc = write(tool, store, [{"path": "v", "data": first * 2, "chunks": [5]}], check=False)
    assert proc.returncode != 0
    assert "exist" in proc.stderr, proc.stderr
    np.testing.assert_array_equal(read_zarr_python(store, "v"), first)
    write(tool, store, [{"path": "w", "data": first * 3, "chunks": [4]}], replace=True)
    assert not (store / "v").exists()
    np.testing.assert_array_equal(read_zarr_python(store, "w"), first * 3)


def test_invalid_spec_is_a_clear_error(tool, tmp_path):
    store = tmp_path / "bad.zarr"
    proc = write(tool, store, [{"path": "v", "data": np.arange(10.0), "chunks": [5],
                                "shards": [7]}], check=False)
    assert proc.returncode == 1
    assert "not a multiple of the chunk shape" in proc.stderr and "bad.zarr/v" in proc.stderr
    assert not store.exists()
