#!/usr/bin/env python3
"""Writes the datasets lsio's benchmarks and demo run on, with xarray + zarr-python.

Every dataset is an xarray Dataset with dims (time, lat, lon), CF-encoded time, descending
latitude and ascending longitude coordinates, and one float32 variable whose values are smooth
geophysical-looking fields plus noise (so compressors see what they see on real data).

    bench/make_dataset.py --which 1 --out data/bench        # one dataset
    bench/make_dataset.py --which 1,2,3,4 --out data/bench  # the stats benchmark set

The datasets (see docs/benchmarks.md):
  1       ~4 GiB float32, chunks 8x512x512, Zarr format 2, uncompressed
  2       the same data with blosc(zstd, clevel 1, shuffle), format 2
  3       ~1 GiB float32 in 64 KiB chunks (1x128x128), format 2, uncompressed
  4       ~4 GiB float32, format 3, sharded (shards of 64 inner chunks 4x128x128), zstd level 1
  16g     ~16 GiB float32 like 1 (for the flat-memory check)
  1q..4q  the same as 1..4 with a quarter of the time steps (1 GiB; 3q 256 MiB), for a
          shorter run of the xarray benchmark (bench/xarray/run.py --which 1q,2q,3q,4q)
  demo    ~1.5 GB: sst (float32, NaN over land) and wind (int16, CF-packed with scale_factor,
          add_offset and _FillValue), format 3, blosc(zstd), consolidated

A dataset is written to <out>/<name>.zarr.partial and renamed when complete, so a finished
dataset is never half-written; an existing finished dataset is left alone.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
import warnings

import dask
import dask.array as da
import numcodecs
import numpy as np
import xarray as xr
import zarr
from zarr.codecs import BloscCodec, BloscShuffle, ZstdCodec

# zarr-python warns that consolidated metadata is not in the v3 spec; lsio reads it anyway.
warnings.filterwarnings("ignore", message="Consolidated metadata is currently not part")

LAT = 720
LON = 1440


def _coords(nt: int, nlat: int, nlon: int) -> dict:
    dlat = 180.0 / nlat
    dlon = 360.0 / nlon
    return {
        "time": np.arange(nt).astype("timedelta64[D]") + np.datetime64("2000-01-01", "ns"),
        "lat": (90 - dlat / 2 - dlat * np.arange(nlat)).astype("f8"),
        "lon": (dlon / 2 + dlon * np.arange(nlon)).astype("f8"),
    }


def _field_block(block: np.ndarray, block_info=None) -> np.ndarray:
    """Temperature-like values for one block: a latitude gradient, a seasonal cycle, waves, and
    noise; deterministic per block."""
    loc = block_info[None]["array-location"]
    shape = block_info[None]["chunk-shape"]
    (t0, t1), (y0, y1), (x0, x1) = loc
    nlat = block_info[None]["shape"][1]
    nlon = block_info[None]["shape"][2]
    t = np.arange(t0, t1, dtype=np.float32)[:, None, None]
    lat = (90 - 180 * (np.arange(y0, y1, dtype=np.float32) + 0.5) / nlat)[None, :, None]
    lon = (360 * (np.arange(x0, x1, dtype=np.float32) + 0.5) / nlon)[None, None, :]
    rad = np.float32(np.pi / 180)
    seed = (t0 * 1_000_003 + y0 * 1009 + x0) & 0xFFFFFFFF
    rng = np.random.default_rng(seed)
    out = np.empty(shape, dtype=np.float32)
    out[...] = 28 * np.cos(lat * rad) - 2
    out += 6 * np.sin(lat * rad) * np.sin(np.float32(2 * np.pi / 365.25) * t)
    out += 1.5 * np.sin(3 * lon * rad + 0.05 * t) * np.cos(2 * lat * rad)
    out += rng.standard_normal(shape, dtype=np.float32) * np.float32(0.3)
    return out


def _temperature(nt: int, nlat: int, nlon: int, chunks: tuple) -> da.Array:
    template = da.empty((nt, nlat, nlon), dtype=np.float32, chunks=chunks)
    return template.map_blocks(_field_block, dtype=np.float32)


def _dataset(nt: int, chunks: tuple, name: str = "t2m") -> xr.Dataset:
    data = _temperature(nt, LAT, LON, chunks)
    ds = xr.Dataset(
        {name: (("time", "lat", "lon"), data, {"units": "degC", "long_name": "temperature"})},
        coords=_coords(nt, LAT, LON),
    )
    ds["lat"].attrs = {"units": "degrees_north", "standard_name": "latitude"}
    ds["lon"].attrs = {"units": "degrees_east", "standard_name": "longitude"}
    return ds


def _write(ds: xr.Dataset, path: str, zarr_format: int, encoding: dict) -> None:
    partial = path + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    with dask.config.set(scheduler="threads", num_workers=os.cpu_count()):
        ds.to_zarr(partial, zarr_format=zarr_format, encoding=encoding, mode="w",
                   consolidated=True)
    os.rename(partial, path)


def make(which: str, out: str) -> str:
    path = os.path.join(out, f"{which}.zarr")
    if os.path.exists(path):
        print(f"{path}: exists, kept")
        return path
    os.makedirs(out, exist_ok=True)
    start = time.time()
    # Chunk the generator like the store so every block becomes exactly one chunk / shard.
    if which in ("1q", "2q", "3q", "4q"):
        return _make_base(which[0], path, 4, start)
    if which == "1":
        ds = _dataset(1024, (8, 512, 512))
        enc = {"t2m": {"chunks": (8, 512, 512), "compressors": None}}
        _write(ds, path, 2, enc)
    elif which == "2":
        ds = _dataset(1024, (8, 512, 512))
        comp = numcodecs.Blosc(cname="zstd", clevel=1, shuffle=numcodecs.Blosc.SHUFFLE)
        enc = {"t2m": {"chunks": (8, 512, 512), "compressors": [comp]}}
        _write(ds, path, 2, enc)
    elif which == "3":
        ds = _dataset(256, (8, 128, 128))
        # 720x1440 float32 is 4 MiB a time step; 256 steps ~ 1 GiB in 64 KiB chunks.
        enc = {"t2m": {"chunks": (1, 128, 128), "compressors": None}}
        _write(ds, path, 2, enc)
    elif which == "4":
        ds = _dataset(1024, (16, 512, 512))
        enc = {"t2m": {"chunks": (4, 128, 128), "shards": (16, 512, 512),
                       "compressors": [ZstdCodec(level=1)]}}
        _write(ds, path, 3, enc)
    elif which == "16g":
        ds = _dataset(4096, (8, 512, 512))
        enc = {"t2m": {"chunks": (8, 512, 512), "compressors": None}}
        _write(ds, path, 2, enc)
    elif which == "demo":
        _write(_demo_dataset(), path, 3, _demo_encoding())
    else:
        raise SystemExit(f"unknown dataset {which!r}")
    print(f"{path}: written in {time.time() - start:.0f} s")
    return path


def _make_base(base: str, path: str, nt_scale: int, start: float) -> str:
    """Datasets 1..4 with 1/nt_scale of their time steps (same chunks and codecs)."""
    if base in ("1", "2"):
        ds = _dataset(1024 // nt_scale, (8, 512, 512))
        comp = numcodecs.Blosc(cname="zstd", clevel=1, shuffle=numcodecs.Blosc.SHUFFLE)
        enc = {"t2m": {"chunks": (8, 512, 512), "compressors": None if base == "1" else [comp]}}
        _write(ds, path, 2, enc)
    elif base == "3":
        ds = _dataset(256 // nt_scale, (8, 128, 128))
        _write(ds, path, 2, {"t2m": {"chunks": (1, 128, 128), "compressors": None}})
    else:
        ds = _dataset(1024 // nt_scale, (16, 512, 512))
        enc = {"t2m": {"chunks": (4, 128, 128), "shards": (16, 512, 512),
                       "compressors": [ZstdCodec(level=1)]}}
        _write(ds, path, 3, enc)
    print(f"{path}: written in {time.time() - start:.0f} s")
    return path


def _land_mask(nlat: int, nlon: int) -> np.ndarray:
    lat = np.linspace(90, -90, nlat)[:, None] * np.pi / 180
    lon = np.linspace(0, 360, nlon, endpoint=False)[None, :] * np.pi / 180
    blobs = np.sin(2 * lon) * np.cos(3 * lat) + 0.6 * np.sin(5 * lon + 1) * np.cos(lat)
    return (blobs > 0.55) | (lat < -65 * np.pi / 180)


def _demo_dataset() -> xr.Dataset:
    nt, nlat, nlon = 1000, 360, 720
    chunks = (10, 180, 360)
    sst = _temperature(nt, nlat, nlon, chunks)
    land = da.from_array(_land_mask(nlat, nlon), chunks=chunks[1:])
    sst = da.where(land[None, :, :], np.float32(np.nan), sst).astype(np.float32)
    wind = (abs(_temperature(nt, nlat, nlon, chunks)) * np.float32(0.7)).astype(np.float32)
    ds = xr.Dataset(
        {
            "sst": (("time", "lat", "lon"), sst,
                    {"units": "degC", "long_name": "sea surface temperature"}),
            "wind": (("time", "lat", "lon"), wind,
                     {"units": "m s-1", "long_name": "wind speed"}),
        },
        coords=_coords(nt, nlat, nlon),
        attrs={"title": "lsio demo dataset (synthetic)"},
    )
    return ds


def _demo_encoding() -> dict:
    blosc = BloscCodec(cname="zstd", clevel=1, shuffle=BloscShuffle.shuffle)
    return {
        "sst": {"chunks": (10, 180, 360), "compressors": [blosc]},
        # CF packing: stored int16 = round((value - add_offset) / scale_factor).
        "wind": {"chunks": (10, 180, 360), "compressors": [blosc], "dtype": "int16",
                 "scale_factor": 0.01, "add_offset": 0.0, "_FillValue": -32768},
    }


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--which", required=True,
                    help="comma-separated: 1,2,3,4,16g,demo, 1q,2q,3q,4q")
    ap.add_argument("--out", required=True, help="folder for <which>.zarr")
    args = ap.parse_args(argv)
    for which in args.which.split(","):
        make(which.strip(), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
