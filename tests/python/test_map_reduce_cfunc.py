"""lsio.map_reduce with C functions (numba cfunc, ctypes, cffi; include/lsio/ops/c_map_reduce.h)
against the same computation in numpy on the whole array read with zarr-python, for 1 and N
threads and several chunkings and selections; error codes from the C functions name the chunk;
signature checks."""

from __future__ import annotations

import os

import numpy as np
import pytest
import zarr

import lsio
from lsio.errors import InvalidArgumentError

numba = pytest.importorskip("numba")

THRESHOLD = 285.0
RESULT = np.dtype([("count", "i8"), ("nan", "i8"), ("key", "i8"), ("sum", "f8"),
                   ("min", "f8"), ("dtype", "i8"), ("blocks", "i8")])
# Weights of a position in the selection, last dimension first: key = sum of
# position . weights over the values above THRESHOLD (exact in int64: checks shape and origin).
W = 1009


@numba.cfunc(lsio.C_MAP_SIGNATURE, nogil=True)
def _summary_f4(data, shape, origin, ndim, dtype, out):
    n = 1
    for d in range(ndim):
        n *= shape[d]
    v = numba.carray(data, (n,), np.float32)
    r = numba.carray(out, (7,), np.int64)
    f = numba.carray(out, (7,), np.float64)
    count = 0
    nan = 0
    key = 0
    s = 0.0
    lo = np.inf
    for i in range(n):
        x = v[i]
        if np.isnan(x):
            nan += 1
            continue
        s += x
        lo = min(lo, x)
        if x > THRESHOLD:
            count += 1
            rem = i
            w = 1
            for d in range(ndim - 1, -1, -1):
                key += (origin[d] + rem % shape[d]) * w
                rem //= shape[d]
                w *= W
    r[0] = count
    r[1] = nan
    r[2] = key
    f[3] = s
    f[4] = lo
    r[5] = dtype
    r[6] = 1
    return 0


@numba.cfunc(lsio.C_COMBINE_SIGNATURE, nogil=True)
def _summary_combine(a, b):
    ra = numba.carray(a, (7,), np.int64)
    rb = numba.carray(b, (7,), np.int64)
    fa = numba.carray(a, (7,), np.float64)
    fb = numba.carray(b, (7,), np.float64)
    ra[0] += rb[0]
    ra[1] += rb[1]
    ra[2] += rb[2]
    fa[3] += fb[3]
    fa[4] = min(fa[4], fb[4])
    if ra[5] != rb[5]:
        return 9
    ra[6] += rb[6]
    return 0


def _expected(values: np.ndarray) -> dict:
    above = np.nan_to_num(values, nan=-np.inf) > THRESHOLD
    pos = np.argwhere(above)
    weights = W ** np.arange(values.ndim - 1, -1, -1, dtype=np.int64)
    return {"count": int(above.sum()), "nan": int(np.isnan(values).sum()),
            "key": int((pos.astype(np.int64) * weights).sum()),
            "sum": float(np.nansum(values.astype("f8"))), "min": float(np.nanmin(values))}


def _check(got, values: np.ndarray, blocks: int | None = None) -> None:
    want = _expected(values)
    assert int(got["count"]) == want["count"]
    assert int(got["nan"]) == want["nan"]
    assert int(got["key"]) == want["key"]
    assert float(got["min"]) == want["min"]
    np.testing.assert_allclose(float(got["sum"]), want["sum"], rtol=1e-12)
    assert int(got["dtype"]) == values.dtype.num
    if blocks is not None:
        assert int(got["blocks"]) == blocks


def _write(path, data, chunks, *, zarr_format=3, missing=(), fill_value=None):
    root = zarr.open_group(path, mode="w", zarr_format=zarr_format)
    dims = ("time", "lat", "lon")
    kw = {"dimension_names": dims} if zarr_format == 3 else {}
    a = root.create_array("t", shape=data.shape, chunks=chunks, dtype=data.dtype,
                          fill_value=fill_value, **kw)
    a[...] = data
    if zarr_format == 2:
        a.attrs["_ARRAY_DIMENSIONS"] = list(dims)
    for key in missing:
        sep = "/" if zarr_format == 3 else "."
        prefix = "c/" if zarr_format == 3 else ""
        os.remove(os.path.join(path, "t", prefix + sep.join(map(str, key))))
    return zarr.open_array(os.path.join(path, "t"), mode="r")[...]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1717)
    d = rng.normal(280, 10, size=(23, 17, 30)).astype("f4")
    d[3, 4, 5] = np.nan
    d[20, 0, 29] = np.nan
    return d


CHUNKINGS = [(5, 17, 30), (4, 5, 7), (23, 1, 30), (1, 17, 8), (23, 17, 30)]


def _grid(shape, chunks):
    return int(np.prod([-(-s // c) for s, c in zip(shape, chunks)]))


@pytest.mark.parametrize("chunks", CHUNKINGS)
def test_numba_cfunc_equals_numpy_on_the_whole_array(tmp_path, data, chunks):
    store = str(tmp_path / "a.zarr")
    values = _write(store, data, chunks, missing=[(0, 0, 0)], fill_value=300.5)
    assert (values[: chunks[0], : chunks[1], : chunks[2]] == np.float32(300.5)).all()
    sums = set()
    for threads in (1, 2, 4):
        got = lsio.map_reduce(store, "t", _summary_f4, _summary_combine, result=RESULT,
                              threads=threads)
        assert isinstance(got, np.void) and got.dtype == RESULT
        _check(got, values, blocks=_grid(data.shape, chunks))
        sums.add(float(got["sum"]))
    assert len(sums) == 1, "the result depends on the thread count"


def test_zarr_v2_and_selections(tmp_path, data):
    store = str(tmp_path / "v2.zarr")
    values = _write(store, data, (4, 5, 7), zarr_format=2)
    cases = [
        ({"time": slice(2, 19)}, np.s_[2:19]),
        ({"time": slice(1, 22, 3), "lon": slice(29, 2, -2)}, np.s_[1:22:3, :, 29:2:-2]),
        ({"lat": 3}, np.s_[:, 3]),  # a dropped dimension: 2-d blocks
        ({"time": 7, "lat": 16}, np.s_[7, 16]),
    ]
    for isel, index in cases:
        for threads in (1, 2):
            got = lsio.map_reduce(store, "t", _summary_f4, _summary_combine, result=RESULT,
                                  isel=isel, threads=threads)
            _check(got, values[index])


def test_empty_selection_gives_none(tmp_path, data):
    store = str(tmp_path / "a.zarr")
    _write(store, data, (4, 5, 7))
    assert lsio.map_reduce(store, "t", _summary_f4, _summary_combine, result=RESULT,
                           isel={"time": slice(5, 5)}) is None


@pytest.mark.parametrize("dtype", ["i2", "f8", "u1"])
def test_dtype_number_and_other_types(tmp_path, dtype):
    sig_ret = {"i2": np.int16, "f8": np.float64, "u1": np.uint8}[dtype]

    @numba.cfunc(lsio.C_MAP_SIGNATURE, nogil=True)
    def total(data, shape, origin, ndim, code, out):
        n = 1
        for d in range(ndim):
            n *= shape[d]
        v = numba.carray(data, (n,), sig_ret)
        r = numba.carray(out, (2,), np.int64)
        s = 0
        for x in v:
            s += np.int64(x)
        r[0] = s
        r[1] = code
        return 0

    @numba.cfunc(lsio.C_COMBINE_SIGNATURE, nogil=True)
    def add(a, b):
        ra = numba.carray(a, (2,), np.int64)
        rb = numba.carray(b, (2,), np.int64)
        ra[0] += rb[0]
        return 0 if ra[1] == rb[1] else 1

    rng = np.random.default_rng(5)
    d = rng.integers(0, 100, size=(9, 8, 7)).astype(dtype)
    store = str(tmp_path / "a.zarr")
    values = _write(store, d, (4, 3, 5))
    got = lsio.map_reduce(store, "t", total, add, result=("i8", 2), threads=2)
    assert got.shape == (2,)
    assert int(got[0]) == int(values.astype("i8").sum())
    assert int(got[1]) == np.dtype(dtype).num


def test_ctypes_and_cffi_function_pointers(tmp_path, data):
    store = str(tmp_path / "a.zarr")
    values = _write(store, data, (4, 5, 7))
    # numba's ctypes wrappers: ctypes function pointers with restype and argtypes set.
    got = lsio.map_reduce(store, "t", _summary_f4.ctypes, _summary_combine.ctypes,
                          result=RESULT, threads=2)
    _check(got, values)
    cffi = pytest.importorskip("cffi")
    ffi = cffi.FFI()
    fmap = ffi.cast("int32_t(*)(const void*, const int64_t*, const int64_t*, int32_t, int32_t, "
                    "void*)", _summary_f4.address)
    fcomb = ffi.cast("int32_t(*)(void*, const void*)", _summary_combine.address)
    got = lsio.map_reduce(store, "t", fmap, fcomb, result=RESULT, threads=2)
    _check(got, values)


def _task_count() -> int:
    return len(os.listdir("/proc/self/task"))


@numba.cfunc(lsio.C_MAP_SIGNATURE, nogil=True)
def _fail_at_8_5_14(data, shape, origin, ndim, dtype, out):
    if origin[0] == 8 and origin[1] == 5 and origin[2] == 14:
        return 7
    return 0


@numba.cfunc(lsio.C_COMBINE_SIGNATURE, nogil=True)
def _noop_combine(a, b):
    return 0


@numba.cfunc(lsio.C_COMBINE_SIGNATURE, nogil=True)
def _failing_combine(a, b):
    return 3


def test_an_error_code_stops_the_run_naming_the_chunk(tmp_path, data):
    store = str(tmp_path / "a.zarr")
    _write(store, data, (4, 5, 7))
    # Starts the pools (the block at time 8 is not selected).
    lsio.map_reduce(store, "t", _fail_at_8_5_14, _noop_combine, result="i8",
                    isel={"time": slice(0, 8)})
    before = _task_count()
    for threads in (1, 2):
        with pytest.raises(InvalidArgumentError) as e:
            lsio.map_reduce(store, "t", _fail_at_8_5_14, _noop_combine, result="i8",
                            threads=threads, isel={"time": slice(0, 16)})
        # The (6, 4, 5) grid: (2, 1, 2) is chunk 2 * 20 + 1 * 5 + 2 = 47; with time 0:16, the
        # grid is (4, 4, 5): the same block is chunk 2 * 20 + 7 = 47 too.
        msg = str(e.value)
        assert "variable 't': chunk 47 (time 8:12, lat 5:10, lon 14:21)" in msg, msg
        assert "the C map function returned 7" in msg, msg
    assert _task_count() <= before
    with pytest.raises(InvalidArgumentError, match="the C combine function returned 3"):
        lsio.map_reduce(store, "t", _fail_at_8_5_14, _failing_combine, result="i8",
                        isel={"time": slice(0, 8)})


def test_signatures_and_arguments_are_checked(tmp_path, data):
    store = str(tmp_path / "a.zarr")
    _write(store, data, (4, 5, 7))

    @numba.cfunc("int32(voidptr, int64)")
    def wrong(a, b):
        return 0

    with pytest.raises(TypeError, match="signature"):
        lsio.map_reduce(store, "t", wrong, _noop_combine, result="i8")
    with pytest.raises(TypeError, match="signature"):
        lsio.map_reduce(store, "t", _fail_at_8_5_14, _summary_f4, result="i8")
    with pytest.raises(TypeError, match="both"):
        lsio.map_reduce(store, "t", _fail_at_8_5_14, lambda a, b: a, result="i8")
    with pytest.raises(TypeError, match="result="):
        lsio.map_reduce(store, "t", _fail_at_8_5_14, _noop_combine)
    with pytest.raises(TypeError, match="result= is for C functions"):
        lsio.map_reduce(store, "t", lambda b, r: 1, lambda a, b: a + b, result="i8")
