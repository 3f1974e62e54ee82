"""lsio.map_reduce and lsio.map_blocks against the same computation in numpy on the whole array
(read with zarr-python), for 1 and N threads and several chunkings; errors, Ctrl-C, and the
map_blocks output read back with zarr-python and xarray."""

from __future__ import annotations

import operator
import os
import signal
import threading
import time

import numpy as np
import pytest
import xarray as xr
import zarr

import lsio

# numba is a development tool (requirements/dev.txt), not in the oldest-versions environment.
numba = pytest.importorskip("numba")


def _task_count() -> int:
    return len(os.listdir("/proc/self/task"))


def _write(path, data, chunks, *, zarr_format=3, fill_value=None, missing=(), coords=True,
           shards=None):
    """A dataset with variable "t" over (time, lat, lon) and coordinates, written by
    zarr-python; chunks listed in `missing` are deleted (their elements read as the fill)."""
    root = zarr.open_group(path, mode="w", zarr_format=zarr_format)
    root.attrs["title"] = "map_reduce test"
    dims = ("time", "lat", "lon")
    kw = {"dimension_names": dims} if zarr_format == 3 else {}
    if shards is not None:
        kw["shards"] = shards
    a = root.create_array("t", shape=data.shape, chunks=chunks, dtype=data.dtype,
                          fill_value=fill_value, **kw)
    a[...] = data
    a.attrs["units"] = "K"
    if zarr_format == 2:
        a.attrs["_ARRAY_DIMENSIONS"] = list(dims)
    if coords:
        for dim, n in zip(dims, data.shape):
            kw = {"dimension_names": (dim,)} if zarr_format == 3 else {}
            c = root.create_array(dim, shape=(n,), dtype="i8" if dim == "time" else "f8", **kw)
            if dim == "time":
                c[...] = np.arange(n) * 6
                c.attrs["units"] = "hours since 2000-01-01"
            else:
                c[...] = np.linspace(-50, 50, n)
            if zarr_format == 2:
                c.attrs["_ARRAY_DIMENSIONS"] = [dim]
    zarr.consolidate_metadata(path)
    for key in missing:
        sep = "/" if zarr_format == 3 else "."
        prefix = "c/" if zarr_format == 3 else ""
        os.remove(os.path.join(path, "t", prefix + sep.join(map(str, key))))
    return zarr.open_array(os.path.join(path, "t"), mode="r")[...]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(17)
    d = rng.normal(280, 10, size=(23, 17, 30)).astype("f4")
    d[3, 4, 5] = np.nan
    return d


@numba.njit(nogil=True, cache=False)
def _count_above_nb(block, threshold):
    n = 0
    for v in block.ravel():
        if v > threshold:
            n += 1
    return n


CHUNKINGS = [(5, 17, 30), (4, 5, 7), (23, 1, 30), (1, 17, 8)]


@pytest.mark.parametrize("chunks", CHUNKINGS)
def test_numpy_and_numba_functions_equal_numpy_on_the_whole_array(tmp_path, data, chunks):
    p = str(tmp_path / "a.zarr")
    whole = _write(p, data, chunks, fill_value=np.float32(-1.0), missing=[(0, 0, 0)])
    want = int((whole > 285.0).sum())
    for threads in (1, 2, 4):
        got = lsio.map_reduce(p, "t", lambda b, r: int((b > 285.0).sum()), operator.add,
                              threads=threads)
        assert got == want
        got_nb = lsio.map_reduce(p, "t", lambda b, r: _count_above_nb(b, np.float32(285.0)),
                                 operator.add, threads=threads)
        assert got_nb == want


def test_sharded_arrays_give_one_block_per_inner_chunk(tmp_path, data):
    p = str(tmp_path / "s.zarr")
    whole = _write(p, data, (4, 17, 10), shards=(8, 17, 30))
    blocks = lsio.map_reduce(p, "t", lambda b, r: [(r.index, b.shape)], operator.add,
                             threads=2)
    assert len(blocks) == 6 * 3 and all(shape[0] <= 4 and shape[2] == 10
                                        for _, shape in blocks)
    for threads in (1, 2):
        assert lsio.map_reduce(p, "t", lambda b, r: int((b > 285.0).sum()), operator.add,
                               threads=threads) == int((whole > 285.0).sum())
    out = str(tmp_path / "o.zarr")
    lsio.map_blocks(p, "t", lambda b, r: -b, out=out, isel={"time": slice(1, 22)})
    np.testing.assert_array_equal(zarr.open_array(os.path.join(out, "t"))[...], -whole[1:22])


def test_floating_result_independent_of_thread_count(tmp_path, data):
    p = str(tmp_path / "a.zarr")
    whole = _write(p, data, (2, 3, 4))
    sums = {lsio.map_reduce(p, "t", lambda b, r: np.nansum(b, dtype="f8"), operator.add,
                            threads=t) for t in (1, 2, 3)}
    assert len(sums) == 1
    assert sums.pop() == pytest.approx(float(np.nansum(whole, dtype="f8")), rel=1e-12)


def test_combine_runs_in_chunk_order_and_regions_say_where_blocks_are(tmp_path, data):
    p = str(tmp_path / "a.zarr")
    whole = _write(p, data, (4, 5, 7))
    time_coord = xr.open_zarr(p).time.values

    def fn(block, region):
        # The block is the array at region.index, and its coordinates are the region's.
        np.testing.assert_array_equal(block, whole[region.index])
        np.testing.assert_array_equal(region.coords["time"], time_coord[region.index[0]])
        assert block.shape == region.shape
        return [region.ordinal]

    got = lsio.map_reduce(p, "t", fn, operator.add, threads=2)
    n = 6 * 4 * 5
    assert got == list(range(n))  # list concatenation is not commutative


def test_selections(tmp_path, data):
    p = str(tmp_path / "a.zarr")
    whole = _write(p, data, (4, 5, 7), zarr_format=2)
    sel_whole = whole[2:19, 3, ::3]

    def fn(block, region):
        np.testing.assert_array_equal(block, sel_whole[region.out_index])
        return float(np.nansum(block, dtype="f8")), block.size

    got = lsio.map_reduce(p, "t", fn, lambda a, b: (a[0] + b[0], a[1] + b[1]),
                          isel={"time": slice(2, 19), "lat": 3, "lon": slice(None, None, 3)},
                          threads=2)
    assert got[1] == sel_whole.size
    assert got[0] == pytest.approx(float(np.nansum(sel_whole, dtype="f8")), rel=1e-12)
    # By label: time is CF-decoded (hours since 2000-01-01, every 6 hours).
    got = lsio.map_reduce(p, "t", lambda b, r: b.size, operator.add,
                          sel={"time": slice("2000-01-01T12", "2000-01-02T06")})
    assert got == 4 * 17 * 30
    assert lsio.map_reduce(p, "t", lambda b, r: 1, operator.add,
                           isel={"time": slice(5, 5)}) is None


def test_exception_in_fn_is_raised_naming_the_chunk_and_leaves_no_threads(tmp_path, data):
    p = str(tmp_path / "a.zarr")
    _write(p, data, (2, 17, 30))
    lsio.map_reduce(p, "t", lambda b, r: 0, operator.add)  # the pool's threads exist from here
    baseline = _task_count()

    def fn(block, region):
        if region.ordinal == 7:
            raise ValueError("bad chunk")
        return 1

    with pytest.raises(ValueError, match="bad chunk") as info:
        lsio.map_reduce(p, "t", fn, operator.add, threads=2)
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "chunk 7" in notes and "time=14:16" in notes and "'t'" in notes
    with pytest.raises(ZeroDivisionError) as info:
        lsio.map_reduce(p, "t", lambda b, r: 1, lambda a, b: a / 0)
    assert "combine" in "\n".join(info.value.__notes__)
    time.sleep(0.2)
    assert _task_count() <= baseline
    assert lsio.map_reduce(p, "t", lambda b, r: 1, operator.add) == 12  # still works


def test_ctrl_c_stops_promptly_and_leaves_no_threads(tmp_path):
    p = str(tmp_path / "big.zarr")
    z = zarr.create_array(p, shape=(800, 4096), chunks=(4, 4096), dtype="f8",
                          compressors=None, zarr_format=2)
    z[...] = 1.5
    lsio.map_reduce(p, None, lambda b, r: 0, operator.add)
    baseline_py = {t.name for t in threading.enumerate()}
    baseline_tasks = _task_count()
    main = threading.main_thread().ident
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    calls = []

    def slow(block, region):
        calls.append(region.ordinal)
        time.sleep(0.02)
        return float(block.sum())

    timer = threading.Timer(0.3, lambda: signal.pthread_kill(main, signal.SIGINT))
    timer.start()
    start = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            lsio.map_reduce(p, None, slow, operator.add)
    finally:
        timer.join()
        signal.signal(signal.SIGINT, previous)
    assert time.monotonic() - start < 5
    assert 0 < len(calls) < 200  # stopped part-way
    time.sleep(0.2)
    assert {t.name for t in threading.enumerate()} <= baseline_py
    assert _task_count() <= baseline_tasks


@pytest.mark.parametrize("chunks", [None, (8, 17, 30), (5, 6, 9)])
def test_map_blocks_equals_numpy_and_opens_in_xarray(tmp_path, data, chunks):
    p = str(tmp_path / "a.zarr")
    whole = _write(p, data, (4, 5, 7), fill_value=np.float32(-1.0), missing=[(1, 1, 1)])
    out = str(tmp_path / "out.zarr")
    summary = lsio.map_blocks(
        p, "t", lambda b, r: np.sqrt(np.abs(b.astype("f8"))) + r.index[0].start, out=out,
        dtype="f8", chunks=chunks, threads=2)
    assert summary["dims"] == ["time", "lat", "lon"]
    want = np.sqrt(np.abs(whole.astype("f8"))) + (np.arange(23) // 4 * 4)[:, None, None]
    got = zarr.open_array(os.path.join(out, "t"), mode="r")
    np.testing.assert_array_equal(got[...], want)
    if chunks is not None:
        assert got.chunks == chunks
    ds = xr.open_zarr(out)
    src = xr.open_zarr(p)
    np.testing.assert_array_equal(ds.t.values, want)
    assert ds.t.dims == ("time", "lat", "lon")
    np.testing.assert_array_equal(ds.time.values, src.time.values)
    np.testing.assert_array_equal(ds.lat.values, src.lat.values)
    assert ds.t.attrs["units"] == "K"
    assert ds.attrs["title"] == "map_reduce test"


def test_map_blocks_selection_dtype_and_errors(tmp_path, data):
    p = str(tmp_path / "a.zarr")
    whole = _write(p, data, (4, 5, 7))
    out = str(tmp_path / "sel.zarr")
    lsio.map_blocks(p, "t", lambda b, r: b > 280, out=out, dtype=bool, zarr_format=2,
                    isel={"lat": 2, "time": slice(3, 20)}, name="warm")
    ds = xr.open_zarr(out)
    np.testing.assert_array_equal(ds.warm.values, whole[3:20, 2] > 280)
    assert ds.warm.dims == ("time", "lon")
    np.testing.assert_array_equal(ds.time.values, xr.open_zarr(p).time.values[3:20])
    # A float result for an int output does not cast silently; nothing is written.
    bad = str(tmp_path / "bad.zarr")
    with pytest.raises(TypeError, match="pass dtype") as info:
        lsio.map_blocks(p, "t", lambda b, r: b.astype("f8"), out=bad, dtype="i4")
    assert "lsio.map_blocks: raised by the function on variable 't', <lsio.Region chunk" in \
        "\n".join(info.value.__notes__)
    with pytest.raises(ValueError, match="shape"):
        lsio.map_blocks(p, "t", lambda b, r: b[:1], out=bad)
    assert not os.path.exists(bad)
    # An existing output is refused unless overwrite.
    with pytest.raises(lsio.Error, match="exists"):
        lsio.map_blocks(p, "t", lambda b, r: b, out=out)
    lsio.map_blocks(p, "t", lambda b, r: b, out=out, overwrite=True)
    np.testing.assert_array_equal(xr.open_zarr(out).t.values, whole)
