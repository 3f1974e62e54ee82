"""Datasets written at test time by xarray, zarr-python and TensorStore, and numpy references
for the statistics lsio computes on them.

Every reference is computed on the values as xarray decodes them by default (CF masking and
scaling), converted to float64, with numpy's NaN-skipping functions.
"""

from __future__ import annotations

import json
from pathlib import Path

import numcodecs
import numpy as np
import tensorstore as ts
import xarray as xr
import zarr
from zarr.codecs import BloscCodec, BloscShuffle, ZstdCodec, GzipCodec

RNG_SEED = 20261128


def reference(values: np.ndarray) -> dict:
    """numpy's statistics of `values` (float64, NaN = missing)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    valid = v[~np.isnan(v)]
    out = {"count": int(valid.size), "nan_count": int(v.size - valid.size)}
    if valid.size:
        with np.errstate(invalid="ignore"):  # infinities make the variance NaN, as expected
            out.update(min=float(valid.min()), max=float(valid.max()), sum=float(np.sum(valid)),
                       mean=float(np.mean(valid)), std=float(np.std(valid)))
    else:
        out.update(min=None, max=None, sum=0.0, mean=None, std=None)
    return out


def _coords(nt, nlat, nlon):
    return {
        "time": np.arange(np.datetime64("2000-01-01", "ns"), np.datetime64("2000-01-01", "ns") +
                          np.timedelta64(nt, "D"), np.timedelta64(1, "D")),
        "lat": np.linspace(80, -80, nlat),
        "lon": np.linspace(0, 350, nlon),
    }


def xarray_dataset(nt=23, nlat=17, nlon=29) -> xr.Dataset:
    rng = np.random.default_rng(RNG_SEED)
    t2m = (rng.standard_normal((nt, nlat, nlon)) * 5 + 280).astype(np.float32)
    t2m[rng.random(t2m.shape) < 0.05] = np.nan
    t2m[0:5, 0:6, 0:7] = np.nan  # exactly one chunk of NaN: the writer leaves it out
    pres = (rng.standard_normal((nt, nlat, nlon)) * 20 + 1000).astype(np.float64)
    pres[rng.random(pres.shape) < 0.1] = np.nan
    ds = xr.Dataset(
        {
            "t2m": (("time", "lat", "lon"), t2m, {"units": "K", "long_name": "temperature"}),
            "pres": (("time", "lat", "lon"), pres, {"units": "hPa"}),
        },
        coords=_coords(nt, nlat, nlon),
    )
    return ds


def write_xarray_v2(path: Path) -> xr.Dataset:
    ds = xarray_dataset()
    comp = numcodecs.Blosc(cname="zstd", clevel=1, shuffle=numcodecs.Blosc.SHUFFLE)
    enc = {
        "t2m": {"chunks": (5, 6, 7), "compressors": [comp]},
        # CF packing with float64 scale and offset, as xarray writes it.
        "pres": {"chunks": (4, 17, 10), "dtype": "int16", "scale_factor": 0.05,
                 "add_offset": 1000.0, "_FillValue": -32767},
    }
    ds.to_zarr(path, zarr_format=2, encoding=enc, mode="w", consolidated=True)
    return ds


def write_xarray_v3_sharded(path: Path) -> xr.Dataset:
    ds = xarray_dataset()
    enc = {
        "t2m": {"chunks": (5, 3, 7), "shards": (10, 6, 14), "compressors": [ZstdCodec(level=1)]},
        "pres": {"chunks": (4, 17, 10), "shards": (8, 17, 20), "dtype": "int16",
                 "scale_factor": 0.05, "add_offset": 1000.0, "_FillValue": -32767,
                 "compressors": [BloscCodec(cname="lz4", clevel=5,
                                            shuffle=BloscShuffle.bitshuffle)]},
    }
    ds.to_zarr(path, zarr_format=3, encoding=enc, mode="w", consolidated=False)
    return ds


def xarray_reference(path: Path, var: str, **sel) -> np.ndarray:
    """The values of `var` as xarray decodes them, float64."""
    ds = xr.open_zarr(path)
    da = ds[var]
    if sel.get("isel"):
        da = da.isel(**sel["isel"])
    if sel.get("sel"):
        da = da.sel(**sel["sel"])
    return da.values.astype(np.float64)


# zarr-python arrays of many dtypes (one group per format), with missing chunks.
DTYPES = ["bool", "int8", "uint8", "int16", "uint16", "int32", "int64", "uint64", "float16",
          "float32", "float64"]


def _values(dtype: str, shape, rng) -> np.ndarray:
    dt = np.dtype(dtype)
    if dt == np.bool_:
        return rng.random(shape) < 0.3
    if dt.kind in "iu":
        info = np.iinfo(dt)
        lo = max(int(info.min), -(10**6)) if dt.itemsize < 8 else int(info.min) // 4
        hi = min(int(info.max), 10**6) if dt.itemsize < 8 else int(info.max) // 4
        return rng.integers(lo, hi, size=shape, dtype=dt, endpoint=True)
    v = rng.standard_normal(shape) * 100 + 1e4
    v[rng.random(shape) < 0.07] = np.nan
    v[rng.random(shape) < 0.01] = np.inf if dt.kind == "f" else 0
    return v.astype(dt)


def write_zarr_python_group(path: Path, zarr_format: int) -> dict:
    """Returns {name: (zarr fill_value, values as stored)}."""
    rng = np.random.default_rng(RNG_SEED + zarr_format)
    root = zarr.open_group(path, mode="w", zarr_format=zarr_format)
    shape, chunks = (19, 23), (6, 5)
    out = {}
    for dt in DTYPES:
        values = _values(dt, shape, rng)
        if np.dtype(dt).kind == "f":
            values[0:6, 0:5] = np.nan  # a missing chunk (equal to the NaN fill)
        kwargs = dict(shape=shape, chunks=chunks, dtype=dt)
        if zarr_format == 3:
            kwargs["dimension_names"] = ["y", "x"]
            kwargs["compressors"] = [ZstdCodec(level=3)] if dt != "bool" else [GzipCodec()]
            fill = np.nan if np.dtype(dt).kind == "f" else 0
        else:
            kwargs["compressors"] = [numcodecs.Zstd(level=3)]
            # Zarr v2 fill values act as _FillValue for xarray: ints get a value that never
            # occurs so that nothing is masked by accident, except uint8 which keeps 0 to
            # check that rule.
            if np.dtype(dt).kind == "f":
                fill = np.nan
            elif dt == "bool":
                fill = None
            elif dt == "uint8":
                fill = 0
            else:
                fill = int(np.iinfo(np.dtype(dt)).max)
        a = root.create_array(dt, fill_value=fill, **kwargs)
        if zarr_format == 2:
            a.attrs["_ARRAY_DIMENSIONS"] = ["y", "x"]
        a[...] = values
        out[dt] = (fill, values)
    return out


def zarr_python_reference(fill, values: np.ndarray, zarr_format: int) -> np.ndarray:
    v = values.astype(np.float64)
    if zarr_format == 2 and fill is not None and not (isinstance(fill, float) and np.isnan(fill)):
        v[values == fill] = np.nan
    return v


def write_tensorstore(path: Path) -> dict:
    """A zarr3 sharded uint16 array with missing inner chunks, and a zarr (v2) F-order float64
    array; returns {name: values as xarray would decode them (float64)}."""
    rng = np.random.default_rng(RNG_SEED + 7)
    out = {}
    path.mkdir(parents=True, exist_ok=True)
    (path / "zarr.json").write_text(json.dumps({"zarr_format": 3, "node_type": "group",
                                                "attributes": {}}))
    spec = {
        "driver": "zarr3",
        "kvstore": {"driver": "file", "path": str(path / "u16")},
        "metadata": {
            "shape": [40, 36],
            "data_type": "uint16",
            "dimension_names": ["y", "x"],
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [20, 18]}},
            "codecs": [{"name": "sharding_indexed", "configuration": {
                "chunk_shape": [5, 6],
                "codecs": [{"name": "bytes", "configuration": {"endian": "little"}},
                           {"name": "zstd", "configuration": {"level": 1}}],
                "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}},
                                 {"name": "crc32c"}],
                "index_location": "end"}}],
            "fill_value": 7,
        },
        "create": True, "delete_existing": True,
    }
    a = ts.open(spec).result()
    values = np.full((40, 36), 7, dtype=np.uint16)
    part = rng.integers(0, 60000, size=(31, 25), dtype=np.uint16)
    a[3:34, 4:29] = part  # the rest stays missing (fill 7), whole shards and inner chunks
    values[3:34, 4:29] = part
    out["u16"] = values.astype(np.float64)  # v3 without _FillValue: nothing is masked

    spec2 = {
        "driver": "zarr",
        "kvstore": {"driver": "file", "path": str(path / "f64")},
        "metadata": {"shape": [33, 21], "chunks": [8, 8], "dtype": "<f8", "order": "F",
                     "compressor": {"id": "zlib", "level": 4}, "fill_value": None},
        "create": True, "delete_existing": True,
    }
    b = ts.open(spec2).result()
    v2 = rng.standard_normal((33, 21)) * 3 - 1
    b[...] = v2
    out["f64"] = v2.copy()
    return out


def check_stats(got: dict, want: dict, exact_sum: bool = False) -> None:
    assert got["count"] == want["count"]
    assert got["nan_count"] == want["nan_count"]
    if want["count"] == 0:
        for k in ("min", "max", "mean", "std"):
            assert got[k] is None, k
        return
    assert got["min"] == want["min"]
    assert got["max"] == want["max"]
    if exact_sum:
        assert got["sum"] == want["sum"]
    else:
        _close(got["sum"], want["sum"], 1e-12)
    _close(got["mean"], want["mean"], 1e-12)
    _close(got["std"], want["std"], 1e-9)


def _close(got: float, want: float, rtol: float) -> None:
    if np.isfinite(want):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=0)
    elif np.isnan(want):
        assert np.isnan(got), (got, want)
    else:
        assert got == want, (got, want)
