"""Property tests (issue 7, part 1, the Python layer): random arrays written by zarr-python 3
(Zarr v2, v3 and sharded v3; many dtypes; chunkings with edge chunks; fill values and missing
chunks), read back through lsio with random selections and compared with zarr-python's read
indexed by numpy; and lsio.stats on random selections compared with numpy's nan-functions.

The examples are small and bounded (derandomized, no example database) so that the suite
runs in seconds and the same examples run every time.
"""

from __future__ import annotations

import shutil
import warnings

import numcodecs
import numpy as np
import pytest
import zarr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from zarr.codecs import BloscCodec, ZstdCodec

import lsio
import stats_data as sd

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])

DTYPES = ["bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
          "float16", "float32", "float64"]
FORMATS = ["v2", "v3", "v3_sharded"]


@st.composite
def array_specs(draw):
    """A zarr-python array: format, dtype, shape, chunks (and shards), fill value, values, and
    which chunks hold nothing but the fill value (zarr-python then writes no file for them)."""
    fmt = draw(st.sampled_from(FORMATS))
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.integers(1, 11)) for _ in range(ndim))
    chunks = tuple(draw(st.integers(1, max(1, s + 2))) for s in shape)  # may exceed the shape
    shards = None
    if fmt == "v3_sharded":
        shards = tuple(c * draw(st.integers(1, 3)) for c in chunks)
    order = draw(st.sampled_from("CF")) if fmt == "v2" else "C"
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if dtype == np.bool_:
        values = rng.random(shape) < 0.4
        fill = bool(draw(st.booleans()))
    elif dtype.kind in "iu":
        info = np.iinfo(dtype)
        lo, hi = max(int(info.min), -1000), min(int(info.max), 1000)
        values = rng.integers(lo, hi, size=shape, endpoint=True).astype(dtype)
        fill = int(draw(st.sampled_from([0, lo, hi])))
    else:
        values = (rng.standard_normal(shape) * 10 + 50).astype(dtype)
        values[rng.random(shape) < 0.1] = np.nan
        fill = draw(st.sampled_from([float("nan"), 0.0, -1.5]))
    # Some chunks become all fill value, so zarr-python leaves them out.
    for idx in np.ndindex(*[-(-s // c) for s, c in zip(shape, chunks)]):
        if rng.random() < 0.3:
            values[tuple(slice(i * c, (i + 1) * c) for i, c in zip(idx, chunks))] = fill
    compressor = draw(st.sampled_from(["none", "zstd", "blosc"]))
    return dict(fmt=fmt, dtype=dtype, shape=shape, chunks=chunks, shards=shards, order=order,
                fill=fill, values=values, compressor=compressor)


def _dims(ndim: int) -> list[str]:
    return ["z", "y", "x"][-ndim:]


def _write(path, spec) -> zarr.Array:
    fmt, ndim = spec["fmt"], len(spec["shape"])
    if spec["compressor"] == "none":
        compressors = None
    elif fmt == "v2":
        compressors = [numcodecs.Zstd(level=1) if spec["compressor"] == "zstd"
                       else numcodecs.Blosc(cname="lz4", shuffle=numcodecs.Blosc.SHUFFLE)]
    else:
        compressors = [ZstdCodec(level=1) if spec["compressor"] == "zstd"
                       else BloscCodec(cname="lz4", clevel=3)]
    g = zarr.open_group(path, mode="w", zarr_format=2 if fmt == "v2" else 3)
    kwargs = dict(shape=spec["shape"], chunks=spec["chunks"], dtype=spec["dtype"],
                  fill_value=spec["fill"], compressors=compressors)
    if fmt == "v2":
        kwargs["order"] = spec["order"]
    else:
        kwargs["dimension_names"] = _dims(ndim)
        if spec["shards"]:
            kwargs["shards"] = spec["shards"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zarr-python's notes on v2 fill values and orders
        a = g.create_array("a", **kwargs)
        if fmt == "v2":
            a.attrs["_ARRAY_DIMENSIONS"] = _dims(ndim)
        a[...] = spec["values"]
    return a


def _index(draw, size: int, allow_int: bool, allow_step: bool):
    kind = draw(st.sampled_from(["int", "slice", "all"] if allow_int else ["slice", "all"]))
    if kind == "int":
        return draw(st.integers(-size, size - 1))
    if kind == "all":
        return slice(None)
    start = draw(st.none() | st.integers(-size - 2, size + 2))
    stop = draw(st.none() | st.integers(-size - 2, size + 2))
    step = draw(st.sampled_from([None, 1, 2, 3, -1, -2])) if allow_step else None
    return slice(start, stop, step)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("hypothesis")


@SETTINGS
@given(spec=array_specs(), data=st.data())
def test_random_selections_read_like_zarr_python(workdir, spec, data):
    path = workdir / "read.zarr"
    shutil.rmtree(path, ignore_errors=True)
    z = _write(path, spec)
    full = z[...]  # zarr-python's read; numpy indexing of it is the reference for selections
    np.testing.assert_array_equal(full, spec["values"])
    a = lsio.open(path)["a"]
    assert a.shape == spec["shape"] and a.dtype == spec["dtype"]
    assert a.dims == tuple(_dims(len(spec["shape"])))
    np.testing.assert_array_equal(a[...], full)
    for _ in range(4):
        key = tuple(_index(data.draw, s, True, True) for s in spec["shape"])
        got = a[key]
        want = full[key]
        assert got.shape == want.shape and got.dtype == want.dtype, (key, got.shape, want.shape)
        np.testing.assert_array_equal(got, want, err_msg=f"{spec['fmt']} {key}")
        # The same by dimension name, on a random subset of the dimensions.
        named = {d: k for d, k in zip(a.dims, key) if data.draw(st.booleans())}
        want = full[tuple(named.get(d, slice(None)) for d in a.dims)]
        np.testing.assert_array_equal(a.read(**named), want, err_msg=f"read {named}")


def _reference(spec, values: np.ndarray) -> np.ndarray:
    """The values as lsio.stats decodes them: float64, and for Zarr v2 the fill value masked
    (it acts as _FillValue, as in xr.open_zarr, bools included)."""
    return sd.zarr_python_reference(spec["fill"], values, 2 if spec["fmt"] == "v2" else 3)


@SETTINGS
@given(spec=array_specs(), data=st.data())
def test_random_selection_stats_match_numpy(workdir, spec, data):
    path = workdir / "stats.zarr"
    shutil.rmtree(path, ignore_errors=True)
    _write(path, spec)
    dims = _dims(len(spec["shape"]))
    isel = {}
    key = []
    for d, size in zip(dims, spec["shape"]):
        k = _index(data.draw, size, True, False) if data.draw(st.booleans()) else slice(None)
        key.append(k)
        if k != slice(None):
            isel[d] = k
    ref = _reference(spec, spec["values"])[tuple(key)]
    kept = [d for d, k in zip(dims, key) if not isinstance(k, int)]
    # (numpy cannot reduce an empty selection along an axis; lsio's whole answer for it is
    # count 0 and no min, max, mean or std.)
    over = data.draw(st.none() | st.sampled_from(kept)) if len(kept) > 1 and ref.size else None
    ds = lsio.stats(path, var="a", isel=isel, over=over,
                    stats=["count", "nan_count", "min", "max", "mean", "std"])
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices
        if over is None:
            want = sd.reference(ref)
            got = {k: ds[f"a_{k}"].item() for k in ("count", "nan_count", "min", "max", "mean",
                                                     "std")}
            assert got["count"] == want["count"] and got["nan_count"] == want["nan_count"]
            if want["count"] == 0:
                assert np.isnan(got["mean"])
                return
            assert got["min"] == want["min"] and got["max"] == want["max"]
            np.testing.assert_allclose(got["mean"], want["mean"], rtol=1e-12)
            np.testing.assert_allclose(got["std"], want["std"], rtol=1e-9, atol=1e-12)
        else:
            axis = kept.index(over)
            np.testing.assert_array_equal(ds["a_count"].values, (~np.isnan(ref)).sum(axis))
            np.testing.assert_array_equal(ds["a_nan_count"].values, np.isnan(ref).sum(axis))
            np.testing.assert_array_equal(ds["a_min"].values, np.nanmin(ref, axis))
            np.testing.assert_array_equal(ds["a_max"].values, np.nanmax(ref, axis))
            np.testing.assert_allclose(ds["a_mean"].values, np.nanmean(ref, axis), rtol=1e-12)
            np.testing.assert_allclose(ds["a_std"].values, np.nanstd(ref, axis), rtol=1e-9,
                                       atol=1e-12)
