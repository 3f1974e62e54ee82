#!/usr/bin/env python3
"""Writes the Zarr fixtures and expected results lsio's format/zarr tests check against.

    make_fixtures.py --out DIR --shared ../shared/fixtures/zarrs

Every array is written by another implementation (zarr-python 3, TensorStore, xarray) and its
expected values are read back with zarr-python (or computed with numpy / xarray / pandas), so
the C++ tests compare lsio against independent references. DIR/manifest.json lists:

  arrays      every array (ours and the shared zarrs fixtures): metadata as zarr-python sees
              it, the expected values (.npy, native byte order, C order), or the error lsio
              must give
  selections  isel/sel strings, the coordinates, and the positions xarray selects, the chunks
              (and inner chunks) they touch by brute force, and the values numpy returns
  cf          CF-encoded variables: raw dtype, xarray's decoded values and dtype
  times       CF time units and values with xarray's decoded datetime64[ns]
  hierarchies stores and the node paths zarr-python lists in them
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import os
import shutil
import warnings

import numcodecs
import numpy as np
import pandas as pd
import tensorstore as ts
import xarray as xr
import zarr
from zarr.codecs import (
    BloscCodec,
    BytesCodec,
    Crc32cCodec,
    GzipCodec,
    ShardingCodec,
    ShardingCodecIndexLocation,
    TransposeCodec,
    ZstdCodec,
)

warnings.simplefilter("ignore")

OUT = ""
MANIFEST: dict = {"arrays": [], "selections": [], "cf": [], "times": [], "hierarchies": []}
COUNTER = itertools.count()


def rel(path: str) -> str:
    return os.path.relpath(path, OUT)


def save_values(values: np.ndarray) -> str:
    """Native byte order, C order; datetime/timedelta as their int64 storage."""
    v = np.asarray(values)
    if v.dtype.kind in "mM":
        v = v.view(np.int64)
    v = np.ascontiguousarray(v.astype(v.dtype.newbyteorder("=")))
    name = f"values/{next(COUNTER)}.npy"
    np.save(os.path.join(OUT, name), v)
    return name


def storage_name(dtype: np.dtype) -> str:
    if dtype.kind in "mM":
        return "int64"
    return np.dtype(dtype.newbyteorder("=")).name


def fill_hex(a, dtype: np.dtype) -> str | None:
    fv = a.fill_value
    if fv is None:
        return None
    native = dtype.newbyteorder("=")
    if dtype.kind in "mM":
        return np.asarray(fv).astype(native).view(np.int64).tobytes().hex()
    return np.asarray(fv, dtype=native).tobytes().hex()


def record_array(store: str, node: str, writer: str, expect_error: dict | None = None,
                 values: bool = True) -> None:
    """Reads the array back with zarr-python and records what lsio must find."""
    path = os.path.join(store, node) if node else store
    a = zarr.open_array(path, mode="r")
    md = a.metadata
    entry: dict = {
        "store": rel(store),
        "node": node,
        "writer": writer,
        "zarr_format": md.zarr_format,
        "shape": list(a.shape),
        "chunks": list(a.chunks),
        "shards": list(a.shards) if a.shards is not None else None,
        "error": expect_error,
    }
    dtype = np.dtype(a.dtype) if not isinstance(a.dtype, np.dtypes.StringDType) else None
    if dtype is not None and dtype.kind in "biufcmM":
        entry["dtype"] = storage_name(dtype)
        entry["fill_hex"] = fill_hex(a, dtype)
        if dtype.kind in "mM":
            unit, count = np.datetime_data(dtype)
            entry["time_unit"] = unit
            entry["time_scale"] = count
            entry["time_kind"] = "datetime64" if dtype.kind == "M" else "timedelta64"
    else:
        entry["dtype"] = None  # not numeric: info only
    attrs = dict(a.attrs)
    if md.zarr_format == 3:
        entry["dims"] = [d if d is not None else "" for d in (md.dimension_names or [])]
        entry["codec_names"] = [c["name"] for c in md.to_dict()["codecs"]]
        cke = md.to_dict()["chunk_key_encoding"]
        entry["chunk_key_encoding"] = cke["name"]
        entry["separator"] = cke.get("configuration", {}).get(
            "separator", "/" if cke["name"] == "default" else ".")
        entry["order"] = "C"
    else:
        entry["dims"] = attrs.get("_ARRAY_DIMENSIONS", [])
        d = md.to_dict()
        names = [f["id"] for f in (d.get("filters") or [])]
        if d.get("compressor"):
            names.append(d["compressor"]["id"])
        entry["codec_names"] = names
        entry["chunk_key_encoding"] = "v2"
        entry["separator"] = d.get("dimension_separator") or "."
        entry["order"] = d["order"]
    entry["attrs"] = attrs
    if values and expect_error is None and entry["dtype"] is not None:
        entry["expected"] = save_values(a[...])
    MANIFEST["arrays"].append(entry)


# --- zarr-python ------------------------------------------------------------------------------

def sample(dtype: np.dtype, shape: tuple) -> np.ndarray:
    n = int(np.prod(shape))
    i = np.arange(n)
    if dtype.kind == "b":
        v = (i % 3) == 1
    elif dtype.kind in "iu":
        info = np.iinfo(dtype)
        v = (i * 7919) % min(int(info.max), 10**6) + (info.min if dtype.kind == "i" else 0) // 2
        v = np.clip(v, info.min, info.max)
    elif dtype.kind == "f":
        v = (i - n / 3) * 0.37
        v[::11] = np.nan
        if n > 3:
            v[3] = np.inf
            v[4] = -np.inf
    elif dtype.kind == "c":
        v = (i - 5) * 0.5 + 1j * (i % 4)
    elif dtype.kind == "M":
        v = np.datetime64("2000-01-01", "ns") + (i * 3600 * 10**9 + 17).astype("m8[ns]")
        v = v.astype(dtype)
        v[5 % n] = np.datetime64("NaT")
    elif dtype.kind == "m":
        v = (i * 1234567 - 99).astype(dtype)
    else:
        raise ValueError(dtype)
    return np.asarray(v).astype(dtype).reshape(shape)


def zp_array(name: str, fmt: int, dtype, shape=(9, 11), chunks=(4, 5), missing=True, **kw):
    path = os.path.join(OUT, "zp", f"v{fmt}", name + ".zarr")
    dt = np.dtype(dtype)
    a = zarr.create_array(path, shape=shape, chunks=chunks, dtype=dt, zarr_format=fmt,
                          **kw)
    data = sample(dt, shape)
    if missing and len(shape) == 2:
        # Leave the first chunk row's second chunk unwritten (a missing chunk = fill value).
        a[chunks[0]:, :] = data[chunks[0]:, :]
        a[: chunks[0], : chunks[1]] = data[: chunks[0], : chunks[1]]
        a[: chunks[0], 2 * chunks[1]:] = data[: chunks[0], 2 * chunks[1]:]
    else:
        a[...] = data
    return path


def make_zarr_python() -> None:
    dtypes = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
              "float16", "float32", "float64", "complex64", "complex128", "datetime64[ns]",
              "datetime64[s]", "timedelta64[ms]"]
    for fmt in (2, 3):
        for dt in dtypes:
            p = zp_array(f"dtype_{dt.replace('[', '_').replace(']', '')}", fmt, dt)
            record_array(p, "", "zarr-python")
    # v2: byte orders, orders, separators, filters, compressors, fill values.
    v2 = [
        ("be_f4", dict(dtype=">f4", compressors=None)),
        ("be_i8_blosc", dict(dtype=">i8", compressors=numcodecs.Blosc("zstd", 3, 2))),
        ("order_F", dict(dtype="<f8", order="F", compressors=numcodecs.Zstd(level=3))),
        ("order_F_be", dict(dtype=">u2", order="F", compressors=None)),
        ("sep_slash", dict(dtype="<i4", chunk_key_encoding={"name": "v2", "separator": "/"})),
        ("blosc_lz4", dict(dtype="<f4", compressors=numcodecs.Blosc("lz4", 5, 1))),
        ("gzip", dict(dtype="<i2", compressors=numcodecs.GZip(level=5))),
        ("zlib", dict(dtype="<u4", compressors=numcodecs.Zlib(level=5))),
        ("bz2", dict(dtype="<f8", compressors=numcodecs.BZ2(level=5))),
        ("lzma", dict(dtype="<i4", compressors=numcodecs.LZMA())),
        ("lz4", dict(dtype="<f4", compressors=numcodecs.LZ4())),
        ("delta_filter", dict(dtype="<i4", filters=[numcodecs.Delta(dtype="<i4")],
                              compressors=numcodecs.Zstd())),
        ("shuffle_filter", dict(dtype="<f8", filters=[numcodecs.Shuffle(elementsize=8)],
                                compressors=numcodecs.Zlib())),
        ("fill_nan", dict(dtype="<f4", fill_value=np.nan)),
        ("fill_inf", dict(dtype="<f8", fill_value=np.inf)),
        ("fill_neginf", dict(dtype="<f4", fill_value=-np.inf)),
        ("fill_42", dict(dtype="<i2", fill_value=42)),
        ("fill_true", dict(dtype="|b1", fill_value=True)),
    ]
    for name, kw in v2:
        dt = kw.pop("dtype")
        p = zp_array(name, 2, dt, **kw)
        record_array(p, "", "zarr-python")
    # A 0-d array and a 1-d array with an edge chunk, both formats.
    for fmt in (2, 3):
        p = os.path.join(OUT, "zp", f"v{fmt}", "scalar.zarr")
        a = zarr.create_array(p, shape=(), dtype="f8", zarr_format=fmt)
        a[...] = 3.25
        record_array(p, "", "zarr-python")
        p = zp_array("one_d", fmt, "int32", shape=(10,), chunks=(3,), missing=False)
        record_array(p, "", "zarr-python")
        p = os.path.join(OUT, "zp", f"v{fmt}", "empty.zarr")
        zarr.create_array(p, shape=(0, 4), chunks=(2, 2), dtype="f4", zarr_format=fmt)
        record_array(p, "", "zarr-python")
    # v3 codecs, chunk key encodings, sharding.
    v3 = [
        ("bytes_big", dict(dtype="float64", serializer=BytesCodec(endian="big"),
                           compressors=None)),
        ("transpose", dict(dtype="int32", filters=[TransposeCodec(order=(1, 0))])),
        ("blosc", dict(dtype="float32", compressors=BloscCodec(cname="zstd", clevel=2,
                                                              shuffle="bitshuffle"))),
        ("gzip_crc", dict(dtype="uint16", compressors=[GzipCodec(level=4), Crc32cCodec()])),
        ("sep_dot", dict(dtype="int16", chunk_key_encoding={"name": "default",
                                                            "separator": "."})),
        ("v2_keys", dict(dtype="float32", chunk_key_encoding={"name": "v2", "separator": "."})),
        ("fill_nan", dict(dtype="float64", fill_value=np.nan)),
        ("fill_7", dict(dtype="uint8", fill_value=7)),
        ("sharded_end", dict(dtype="float32", shards=(8, 10), compressors=ZstdCodec(level=1))),
        ("sharded_big", dict(dtype="int64", shards=(8, 10),
                             serializer=BytesCodec(endian="big"), compressors=None)),
    ]
    for name, kw in v3:
        dt = kw.pop("dtype")
        p = zp_array(name, 3, dt, **kw)
        record_array(p, "", "zarr-python")
    # Sharding with the index at the start, missing inner chunks and a missing shard.
    p = os.path.join(OUT, "zp", "v3", "sharded_start.zarr")
    a = zarr.create_array(
        p, shape=(13, 11), chunks=(9, 12), dtype="int32", fill_value=-1,
        serializer=ShardingCodec(chunk_shape=(3, 4), codecs=[BytesCodec(), ZstdCodec()],
                                 index_location=ShardingCodecIndexLocation.start),
        compressors=None)
    data = sample(np.dtype("int32"), (13, 11))
    a[0:3, :] = data[0:3, :]
    a[6:13, 4:8] = data[6:13, 4:8]
    record_array(p, "", "zarr-python")
    p = os.path.join(OUT, "zp", "v3", "sharded_missing_shard.zarr")
    a = zarr.create_array(p, shape=(12, 12), chunks=(2, 3), shards=(6, 6), dtype="float32",
                          fill_value=np.nan)
    a[0:6, 0:6] = sample(np.dtype("float32"), (12, 12))[0:6, 0:6]
    a[7:9, 7:8] = 1.5
    record_array(p, "", "zarr-python")
    # Nested sharding.
    p = os.path.join(OUT, "zp", "v3", "nested_sharding.zarr")
    inner = ShardingCodec(chunk_shape=(2, 2), codecs=[BytesCodec(), GzipCodec()],
                          index_location=ShardingCodecIndexLocation.start)
    a = zarr.create_array(p, shape=(10, 9), chunks=(8, 8), dtype="uint16", fill_value=7,
                          serializer=ShardingCodec(chunk_shape=(4, 4), codecs=[inner]),
                          compressors=None)
    data = sample(np.dtype("uint16"), (10, 9))
    a[0:5, 0:3] = data[0:5, 0:3]
    a[8:10, :] = data[8:10, :]
    record_array(p, "", "zarr-python")
    # A hex fill value (patched in: the only way to write a NaN payload in v3).
    p = os.path.join(OUT, "zp", "v3", "fill_hex.zarr")
    a = zarr.create_array(p, shape=(6,), chunks=(2,), dtype="float32", fill_value=0.0)
    a[0:2] = [1, 2]
    with open(os.path.join(p, "zarr.json")) as f:
        meta = json.load(f)
    meta["fill_value"] = "0x3fc00000"
    with open(os.path.join(p, "zarr.json"), "w") as f:
        json.dump(meta, f)
    record_array(p, "", "zarr-python (fill patched to hex)")
    # Non-numeric types: metadata opens, reading is not supported.
    for fmt in (2, 3):
        for name, dt in (("str_fixed", "U6"), ("bytes_fixed", "S5"), ("raw", "V4"),
                         ("structured", [("a", "<i4"), ("b", "<f8")])):
            path = os.path.join(OUT, "zp", f"v{fmt}", name + ".zarr")
            zarr.create_array(path, shape=(4,), chunks=(2,), dtype=dt, zarr_format=fmt)
            record_array(path, "", "zarr-python",
                         expect_error={"code": "NotSupported", "contains": "dtype"},
                         values=False)
        path = os.path.join(OUT, "zp", f"v{fmt}", "vlen_str.zarr")
        a = zarr.create_array(path, shape=(3,), chunks=(2,), dtype=str, zarr_format=fmt)
        a[...] = ["a", "bb", "ccc"]
        record_array(path, "", "zarr-python",
                     expect_error={"code": "NotSupported", "contains": "dtype"}, values=False)


# --- TensorStore --------------------------------------------------------------------------------

def make_tensorstore() -> None:
    base = os.path.join(OUT, "ts")
    shape = [10, 13]
    cases_v2 = [
        ("v2_f4_blosc", {"dtype": "<f4", "compressor": {"id": "blosc", "cname": "lz4",
                                                        "clevel": 5, "shuffle": 1}}),
        ("v2_i2_zlib_F", {"dtype": ">i2", "order": "F", "compressor": {"id": "zlib",
                                                                       "level": 3}}),
        ("v2_u8_zstd_slash", {"dtype": "<u8", "dimension_separator": "/",
                              "compressor": {"id": "zstd", "level": 3}}),
        ("v2_f8_bz2_fill", {"dtype": "<f8", "fill_value": -1.5,
                            "compressor": {"id": "bz2", "level": 5}}),
        ("v2_b1", {"dtype": "|b1", "compressor": None}),
    ]
    for name, md in cases_v2:
        path = os.path.join(base, name + ".zarr")
        meta = {"shape": shape, "chunks": [4, 5], **md}
        t = ts.open({"driver": "zarr", "kvstore": {"driver": "file", "path": path},
                     "metadata": meta}, create=True, delete_existing=True).result()
        dt = np.dtype(md["dtype"])
        data = sample(dt, tuple(shape))
        t[0:8, :] = data[0:8, :]  # the last chunk row is missing
        record_array(path, "", "tensorstore zarr")
    cases_v3 = [
        ("v3_sharded_end", "float32", [{"name": "sharding_indexed", "configuration": {
            "chunk_shape": [2, 5],
            "codecs": [{"name": "bytes", "configuration": {"endian": "little"}},
                       {"name": "zstd", "configuration": {"level": 3}}],
            "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}},
                             {"name": "crc32c"}],
            "index_location": "end"}}], [4, 10]),
        ("v3_sharded_start_be", "int16", [{"name": "sharding_indexed", "configuration": {
            "chunk_shape": [4, 5],
            "codecs": [{"name": "bytes", "configuration": {"endian": "big"}},
                       {"name": "gzip", "configuration": {"level": 5}}],
            "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}},
                             {"name": "crc32c"}],
            "index_location": "start"}}], [8, 10]),
        ("v3_transpose_blosc", "uint32", [
            {"name": "transpose", "configuration": {"order": [1, 0]}},
            {"name": "bytes", "configuration": {"endian": "little"}},
            {"name": "blosc", "configuration": {"cname": "zstd", "clevel": 3,
                                                "shuffle": "shuffle", "typesize": 4}}],
         [4, 5]),
        ("v3_f8_crc", "float64", [{"name": "bytes", "configuration": {"endian": "little"}},
                                  {"name": "crc32c"}], [4, 5]),
    ]
    for name, dtype, codecs, chunk in cases_v3:
        path = os.path.join(base, name + ".zarr")
        meta = {"shape": shape, "data_type": dtype,
                "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": chunk}},
                "codecs": codecs, "dimension_names": ["y", "x"]}
        t = ts.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": path},
                     "metadata": meta}, create=True, delete_existing=True).result()
        data = sample(np.dtype(dtype), tuple(shape))
        t[0:3, :] = data[0:3, :]
        t[6:10, 0:5] = data[6:10, 0:5]
        record_array(path, "", "tensorstore zarr3")


# --- xarray: datasets with coordinates, CF packing, times ------------------------------------

def dataset(hourly: bool = False) -> xr.Dataset:
    nt, nlat, nlon = 40, 18, 36
    rng = np.random.default_rng(3)
    t0 = np.datetime64("2000-01-01", "ns")
    step = np.timedelta64(1, "h") if hourly else np.timedelta64(1, "D")
    time = t0 + np.arange(nt) * step
    lat = 85.0 - 10.0 * np.arange(nlat)
    lon = 5.0 + 10.0 * np.arange(nlon)
    t2m = (rng.standard_normal((nt, nlat, nlon)) * 5 + 280).astype("f4")
    ds = xr.Dataset({"t2m": (("time", "lat", "lon"), t2m, {"units": "K"})},
                    coords={"time": time, "lat": lat, "lon": lon})
    ds["lat"].attrs = {"units": "degrees_north"}
    return ds


def make_xarray() -> dict:
    stores = {}
    ds = dataset()
    enc = {"t2m": {"chunks": (7, 5, 8)}}
    p = os.path.join(OUT, "xr", "daily_v2.zarr")
    ds.to_zarr(p, zarr_format=2, encoding=enc, mode="w", consolidated=True)
    stores["daily_v2"] = p
    p = os.path.join(OUT, "xr", "daily_v3_sharded.zarr")
    enc3 = {"t2m": {"chunks": (7, 5, 8), "shards": (14, 10, 16)}}
    ds.to_zarr(p, zarr_format=3, encoding=enc3, mode="w", consolidated=True)
    stores["daily_v3_sharded"] = p
    p = os.path.join(OUT, "xr", "hourly_v3.zarr")
    dataset(hourly=True).to_zarr(p, zarr_format=3, encoding={"t2m": {"chunks": (7, 5, 8)}},
                                 mode="w", consolidated=False)
    stores["hourly_v3"] = p
    for key in ("daily_v2", "daily_v3_sharded", "hourly_v3"):
        for var in ("t2m", "time", "lat", "lon"):
            record_array(stores[key], var, "xarray")
    return stores


def selection_cases(stores: dict) -> None:
    daily = [
        (["time=0:10"], []), (["time=5"], []), (["time=-1"], []), (["lon=::3"], []),
        (["lon=30:2:-2"], []), (["lat=-5:"], []), (["time=3:3"], []), (["lon=::-1"], []),
        (["time=100"], []), (["time=1:39:5", "lat=2", "lon=-7:-1"], []),
        ([], ["lat=55:15"]), ([], ["lat=15:55"]), ([], ["lon=100:200"]), ([], ["lon=200:100"]),
        ([], ["lon=125"]), ([], ["lon=124"]), ([], ["lat=:60"]), ([], ["lat=-10:"]),
        ([], ["time=2000-01-05:2000-01-20"]), ([], ["time=2000-01"]),
        ([], ["time=2000-01-05"]), ([], ["time=2000"]), ([], ["time=1999"]),
        ([], ["time=:2000-01-03"]), ([], ["time=2000-01-30:"]),
        ([], ["time=2000-02-30"]), ([], ["lat=56:54"]),
        (["lon=3:20"], ["time=2000-01-10:2000-02-05", "lat=70:40"]),
    ]
    hourly = [
        ([], ["time=2000-01-02"]), ([], ["time=2000-01-02T05:00"]),
        ([], ["time=2000-01-01T06:00:2000-01-01T09:30"]), ([], ["time=2000-01-01T03"]),
    ]
    for key, cases in (("daily_v2", daily), ("daily_v3_sharded", daily), ("hourly_v3", hourly)):
        store = stores[key]
        ds = xr.open_zarr(store)
        arr = zarr.open_array(os.path.join(store, "t2m"), mode="r")
        shape = arr.shape
        chunk = arr.chunks
        shard = arr.shards
        values_all = arr[...]
        coords = {
            "time": {"kind": "datetime",
                     "values": [int(x) for x in ds["time"].values.astype("M8[ns]").view("i8")]},
            "lat": {"kind": "numeric", "values": [float(x) for x in ds["lat"].values]},
            "lon": {"kind": "numeric", "values": [float(x) for x in ds["lon"].values]},
        }
        pos = xr.Dataset({f"pos_{d}": ((d,), np.arange(ds.sizes[d])) for d in ds.sizes},
                         coords={d: ds[d] for d in ds.sizes})
        for isel, sel in cases:
            entry = {"store": rel(store), "node": "t2m", "dims": ["time", "lat", "lon"],
                     "isel": isel, "sel": sel, "coords": coords}
            try:
                r = pos
                for s in isel:
                    dim, text = s.split("=", 1)
                    if ":" in text:
                        parts = [int(p) if p else None for p in text.split(":")]
                        r = r.isel({dim: slice(*parts)})
                    else:
                        r = r.isel({dim: int(text)})
                for s in sel:
                    dim, text = s.split("=", 1)
                    conv = float if dim != "time" else str
                    if dim == "time" and text.count(":") > 1:
                        a, b = text.split(":2000")
                        b = "2000" + b
                        r = r.sel({dim: slice(a, b)})
                    elif ":" in text and dim != "time" or (dim == "time" and ":" in text
                                                         and "T" not in text):
                        a, b = text.split(":")
                        r = r.sel({dim: slice(conv(a) if a else None, conv(b) if b else None)})
                    else:
                        r = r.sel({dim: conv(text)})
                indices = []
                drop = []
                for d in ("time", "lat", "lon"):
                    v = np.atleast_1d(r[f"pos_{d}"].values)
                    indices.append([int(x) for x in v])
                    drop.append(d not in r[f"pos_{d}"].dims)
                entry["indices"] = indices
                entry["drop"] = drop
                grid = shard if shard is not None else chunk
                outer = sorted({tuple(int(i) // g for i, g in zip(c, grid))
                                for c in itertools.product(*indices)})
                entry["chunks"] = [list(c) for c in outer]
                if shard is not None:
                    inner = {}
                    for c in itertools.product(*indices):
                        s = tuple(int(i) // g for i, g in zip(c, shard))
                        ic = tuple((int(i) % g) // k for i, g, k in zip(c, shard, chunk))
                        inner.setdefault(s, set()).add(ic)
                    entry["inner_chunks"] = [[list(s), sorted(list(x) for x in v)]
                                             for s, v in sorted(inner.items())]
                sub = values_all[np.ix_(*[np.asarray(i, dtype=int) for i in indices])]
                sub = sub.reshape([len(i) for i, dr in zip(indices, drop) if not dr])
                entry["expected"] = save_values(sub)
                entry["error"] = False
            except (KeyError, IndexError, ValueError, TypeError):
                entry["error"] = True
            MANIFEST["selections"].append(entry)


def make_cf() -> None:
    rng = np.random.default_rng(5)
    n = 50
    wind = rng.uniform(-20, 40, n)
    wind[::7] = np.nan
    temp = (rng.standard_normal(n) * 10 + 270).astype("f4")
    temp[3::9] = np.nan
    counts = rng.integers(0, 200, n).astype("i4")
    ds = xr.Dataset({
        "wind": (("x",), wind),
        "wind_u8": (("x",), np.where(np.isnan(wind), np.nan, np.abs(wind))),
        "temp": (("x",), temp),
        "counts": (("x",), counts),
        "small": (("x",), rng.integers(-100, 100, n).astype("i2")),
        "flag": (("x",), rng.integers(0, 2, n).astype(bool)),
        "unsigned": (("x",), rng.integers(0, 250, n).astype("f8")),
    })
    ds["unsigned"][5] = np.nan
    encoding = {
        "wind": {"dtype": "int16", "scale_factor": 0.01, "add_offset": 5.0,
                 "_FillValue": -32767},
        "wind_u8": {"dtype": "uint8", "scale_factor": 0.2, "_FillValue": 255},
        "temp": {"dtype": "float32", "_FillValue": -9999.0},
        "counts": {"dtype": "int32"},
        "small": {"dtype": "int16", "_FillValue": 5},
        "unsigned": {"dtype": "int8", "_FillValue": -1, "_Unsigned": "true"},
    }
    for fmt in (2, 3):
        p = os.path.join(OUT, "xr", f"cf_v{fmt}.zarr")
        ds.to_zarr(p, zarr_format=fmt, encoding={k: dict(v) for k, v in encoding.items()},
                   mode="w", consolidated=False)
        decoded = xr.open_zarr(p)
        for var in ds.data_vars:
            a = zarr.open_array(os.path.join(p, var), mode="r")
            out = decoded[var].values
            MANIFEST["cf"].append({
                "store": rel(p), "node": var, "raw_dtype": storage_name(np.dtype(a.dtype)),
                "decoded_dtype": np.dtype(out.dtype).name,
                "raw": save_values(a[...]), "decoded": save_values(out)})
    # Time coordinates encoded in several ways; xarray decodes them.
    t = pd.date_range("1999-12-30", periods=30, freq="7h").values
    tn = t.copy()
    tn[4] = np.datetime64("NaT")
    tds = xr.Dataset(coords={"t_days_int": ("a", t), "t_hours_float": ("a", t),
                             "t_nat_int": ("a", tn), "t_nat_float": ("a", tn),
                             "t_tz": ("a", t)})
    tenc = {"t_days_int": {"units": "hours since 2000-01-01", "dtype": "int64"},
            "t_hours_float": {"units": "days since 1999-12-01 12:00:00", "dtype": "float64"},
            "t_nat_int": {"units": "minutes since 1970-01-01", "dtype": "int64",
                          "_FillValue": -999},
            "t_nat_float": {"units": "seconds since 2000-01-01T00:00:00", "dtype": "float64"},
            "t_tz": {"units": "hours since 2000-01-01 06:00:00+06:00", "dtype": "int32"}}
    for fmt in (2, 3):
        p = os.path.join(OUT, "xr", f"times_v{fmt}.zarr")
        tds.to_zarr(p, zarr_format=fmt, encoding=tenc, mode="w", consolidated=False)
        decoded = xr.open_zarr(p)
        for var in tds.coords:
            a = zarr.open_array(os.path.join(p, var), mode="r")
            MANIFEST["cf"].append({
                "store": rel(p), "node": var, "raw_dtype": storage_name(np.dtype(a.dtype)),
                "decoded_dtype": "datetime64[ns]", "raw": save_values(a[...]),
                "decoded": save_values(decoded[var].values.astype("M8[ns]"))})


def make_times() -> None:
    from xarray.coding.times import decode_cf_datetime
    cases = [
        ("days since 2000-01-01", None, [0, 1, 366, -1, 10000]),
        ("days since 2000-1-1", "standard", [0.5, 1.25, -0.1, 2.75, 1e-9]),
        ("hours since 1900-01-01 00:00:0.0", "gregorian", [0, 24, 1e6, 123456.789]),
        ("seconds since 1970-01-01T00:00:00Z", "proleptic_gregorian", [0, 1.5, -86400.25]),
        ("minutes since 2000-01-01 12:00:00 +05:30", None, [0, 60, 1440]),
        ("milliseconds since 2000-01-01", None, [1, 2, 1e12]),
        ("microseconds since 2000-01-01 00:00", None, [7, -7, 123456789012]),
        ("nanoseconds since 2001-02-03", None, [1, 999, 10**15]),
        ("hour since 2000-01-01", None, [1, 2]),
        ("Days since 2000-01-01", None, [3]),
        ("days since 1-1-1", "proleptic_gregorian", [730119.0, 730120]),
        ("days since 2000-01-01", None, [np.nan, 1.0]),
        ("days since 2000-01-01", "noleap", [1, 2]),
        ("months since 2000-01-01", None, [1, 2]),
        ("days since 1500-01-01", "standard", [1, 2]),
        ("seconds since 2000-01-01", None, [1e300]),
    ]
    for units, cal, values in cases:
        arr = np.array(values)
        if all(float(v).is_integer() for v in values if not np.isnan(v)) and not any(
                isinstance(v, float) for v in values):
            arr = arr.astype("i8")
        entry = {"units": units, "calendar": cal or "",
                 "values": [None if (isinstance(v, float) and np.isnan(v)) else v
                            for v in arr.tolist()],
                 "integer": arr.dtype.kind == "i"}
        try:
            out = decode_cf_datetime(arr, units, cal)
            if np.asarray(out).dtype.kind != "M":
                raise ValueError("cftime objects")
            entry["expected_ns"] = [int(x) for x in np.asarray(out).astype("M8[ns]").view("i8")]
            entry["error"] = False
        except Exception:  # noqa: BLE001 -- any failure means lsio must fail too
            entry["error"] = True
        MANIFEST["times"].append(entry)


def make_hierarchies(stores: dict) -> None:
    # zarr-python groups, both formats, consolidated and not.
    for fmt in (2, 3):
        for consolidated in (False, True):
            p = os.path.join(OUT, "zp", f"v{fmt}", f"tree_{'c' if consolidated else 'n'}.zarr")
            g = zarr.open_group(p, mode="w", zarr_format=fmt, attributes={"title": "tree"})
            g.create_array("a", shape=(4,), chunks=(2,), dtype="f4")[...] = 1.0
            s = g.create_group("sub", attributes={"level": 1})
            s.create_array("b", shape=(3, 2), chunks=(2, 2), dtype="i2")[...] = 2
            ss = s.create_group("deeper")
            ss.create_array("c", shape=(5,), chunks=(5,), dtype="u1")[...] = 3
            if consolidated:
                zarr.consolidate_metadata(p)
            names = sorted(k for k, _ in g.members(max_depth=None))
            MANIFEST["hierarchies"].append({"store": rel(p), "nodes": names,
                                            "consolidated": consolidated, "zarr_format": fmt,
                                            "root_attrs": {"title": "tree"}})
            for node in ("a", "sub/b", "sub/deeper/c"):
                record_array(p, node, "zarr-python")
    for key, p in stores.items():
        g = zarr.open_group(p, mode="r")
        names = sorted(k for k, _ in g.members(max_depth=None))
        MANIFEST["hierarchies"].append({"store": rel(p), "nodes": names,
                                        "consolidated": key != "hourly_v3",
                                        "zarr_format": g.metadata.zarr_format,
                                        "root_attrs": dict(g.attrs)})


# --- the shared zarrs fixtures ----------------------------------------------------------------

def record_shared(shared: str) -> None:
    """Every array of ../shared/fixtures/zarrs, read with zarr-python."""
    unsupported = {"pcodec": "pcodec", "zfpy": "zfpy"}
    for root, dirs, files in sorted(os.walk(shared)):
        dirs.sort()
        if not ("zarr.json" in files or ".zarray" in files):
            continue
        if "zarr.json" in files:
            with open(os.path.join(root, "zarr.json")) as f:
                if json.load(f).get("node_type") != "array":
                    continue
        dirs[:] = []
        name = os.path.relpath(root, shared)
        error = None
        for key, codec in unsupported.items():
            if key in name:
                error = {"code": "NotSupported", "contains": codec}
        if "optional" in name:
            error = {"code": "NotSupported", "contains": "optional"}
        store = os.path.abspath(root)
        entry_count = len(MANIFEST["arrays"])
        try:
            record_array(store, "", "shared zarrs fixture", expect_error=error)
        except Exception as e:  # noqa: BLE001 -- zarr-python cannot open it either
            MANIFEST["arrays"].append({"store": store, "node": "", "writer": "shared",
                                       "zarr_python_error": str(e)[:200],
                                       "error": error or {"code": "any", "contains": ""}})
        for entry in MANIFEST["arrays"][entry_count:]:
            entry["store"] = store
            entry["shared"] = name
            if entry.get("dtype") is None and entry.get("error") is None:
                entry["error"] = {"code": "NotSupported", "contains": "dtype"}


def main() -> None:
    global OUT
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--shared", required=True)
    args = ap.parse_args()
    OUT = os.path.abspath(args.out)
    partial = OUT + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    final = OUT
    OUT = partial
    os.makedirs(os.path.join(OUT, "values"))
    make_zarr_python()
    make_tensorstore()
    stores = make_xarray()
    selection_cases(stores)
    make_cf()
    make_times()
    make_hierarchies(stores)
    record_shared(os.path.abspath(args.shared))
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(MANIFEST, f, indent=1, default=str)
    shutil.rmtree(final, ignore_errors=True)
    os.rename(OUT, final)
    print(f"{final}: {len(MANIFEST['arrays'])} arrays, {len(MANIFEST['selections'])} "
          f"selections, {len(MANIFEST['cf'])} CF variables, {len(MANIFEST['times'])} time cases")


if __name__ == "__main__":
    main()
