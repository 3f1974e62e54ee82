"""xarray and dask through lsio on native handles (issue 13): the engine against xr.open_zarr
with and without dask chunks, open_mfdataset, the open_dataset arguments, dask chunking aligned
to storage chunks with one engine call per task, pickled handles on a distributed LocalCluster,
handles across a rewritten store, lsio.dask.stats planned in C++, and small reads."""

from __future__ import annotations

import os
import pickle
import shutil
import time
from pathlib import Path

import dask
import numcodecs
import numpy as np
import pytest
import xarray as xr
import zarr
from zarr.codecs import BloscCodec, ZstdCodec

import lsio
import stats_data as sd
from lsio import _lsio
from lsio.xarray_backend import LsioBackendArray

# The encoding keys xarray's decoding and writing depend on.
_ENCODING_KEYS = ("dtype", "scale_factor", "add_offset", "_FillValue", "missing_value", "units",
                  "calendar", "chunks", "shards")


def _dataset(seed: int = 1, nt: int = 23) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    ds = sd.xarray_dataset(nt=nt)
    ds["i32"] = (("time", "lat"), rng.integers(-1000, 1000, size=(nt, 17), dtype=np.int32))
    ds["u8"] = (("lat", "lon"), rng.integers(0, 255, size=(17, 29), dtype=np.uint8))
    ds["f16"] = (("time", "lon"), rng.standard_normal((nt, 29)).astype(np.float16))
    ds["flag"] = (("lon",), rng.random(29) < 0.5)
    ds["t2m"].attrs["coordinates"] = "aux"
    ds.coords["aux"] = (("lat",), np.arange(17.0) * 2)
    ds.attrs = {"title": "test", "version": 3}
    return ds


def _encoding(fmt: int, sharded: bool) -> dict:
    if fmt == 2:
        comp = numcodecs.Blosc(cname="lz4", clevel=3, shuffle=numcodecs.Blosc.BITSHUFFLE)
        return {"t2m": {"chunks": (5, 6, 7), "compressors": [comp]},
                "pres": {"chunks": (4, 17, 10), "dtype": "int16", "scale_factor": 0.05,
                         "add_offset": 1000.0, "_FillValue": -32767},
                "i32": {"chunks": (10, 5)}}
    enc = {"t2m": {"chunks": (5, 3, 7), "compressors": [ZstdCodec(level=2)]},
           "pres": {"chunks": (4, 17, 10), "dtype": "int16", "scale_factor": 0.05,
                    "add_offset": 1000.0, "_FillValue": -32767,
                    "compressors": [BloscCodec(cname="zstd", clevel=1)]},
           "i32": {"chunks": (10, 5)}}
    if sharded:
        enc["t2m"]["shards"] = (10, 6, 14)
        enc["i32"]["shards"] = (20, 10)
    return enc


_FIXTURES = ["v2", "v2_plain", "v3", "v3_sharded", "stats_v2", "stats_v3_sharded"]


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("xd")
    out = {}
    for name, fmt, sharded, consolidated in [("v2", 2, False, True), ("v2_plain", 2, False, False),
                                             ("v3", 3, False, False), ("v3_sharded", 3, True, True)]:
        p = d / f"{name}.zarr"
        _dataset().to_zarr(p, zarr_format=fmt, encoding=_encoding(fmt, sharded), mode="w",
                           consolidated=consolidated)
        out[name] = p
    out["stats_v2"] = d / "stats_v2.zarr"
    sd.write_xarray_v2(out["stats_v2"])
    out["stats_v3_sharded"] = d / "stats_v3_sharded.zarr"
    sd.write_xarray_v3_sharded(out["stats_v3_sharded"])
    return out


def _check_encoding(ours: xr.Dataset, theirs: xr.Dataset) -> None:
    for name in theirs.variables:
        for key in _ENCODING_KEYS:
            want = theirs[name].encoding.get(key)
            got = ours[name].encoding.get(key)
            if isinstance(want, np.ndarray) or isinstance(got, np.ndarray):
                np.testing.assert_array_equal(got, want, err_msg=f"{name} {key}")
            elif isinstance(want, (float, np.floating)) and np.isnan(want):
                assert got is not None and np.isnan(got), (name, key)
                assert type(got) is type(want), (name, key, type(got), type(want))
            else:
                assert got == want, (name, key, got, want)


def _check_aligned(ours: xr.Dataset) -> None:
    """Every dask chunk boundary is a storage chunk boundary of its variable."""
    for name, v in ours.variables.items():
        if v.chunks is None:
            continue
        storage = v.encoding.get("shards") or v.encoding["chunks"]
        for axis, (sizes, unit) in enumerate(zip(v.chunks, storage)):
            edges = np.cumsum(sizes)[:-1]
            assert all(e % unit == 0 for e in edges), (name, axis, v.chunks, storage)


@pytest.mark.parametrize("chunks", [None, {}], ids=["lazy", "dask"])
@pytest.mark.parametrize("name", _FIXTURES)
def test_open_dataset_is_identical_to_open_zarr(stores, name, chunks):
    p = stores[name]
    with dask.config.set(scheduler="threads"):
        ours = xr.open_dataset(p, engine="lsio", chunks=chunks)
        theirs = xr.open_zarr(p, chunks=chunks)
        xr.testing.assert_identical(ours, theirs)
        _check_encoding(ours, theirs)
        if chunks is not None:
            _check_aligned(ours)
            assert all(v.chunks is not None for v in ours.data_vars.values())
        xr.testing.assert_identical(
            xr.open_dataset(p, engine="lsio", chunks=chunks, mask_and_scale=False,
                            decode_times=False),
            xr.open_zarr(p, chunks=chunks, mask_and_scale=False, decode_times=False))
        # Lazily indexed, and reduced.
        sel = dict(time=slice(3, 9), lat=[1, 4, 2])
        xr.testing.assert_identical(ours.isel(sel).t2m, theirs.isel(sel).t2m)
        xr.testing.assert_allclose(ours.t2m.mean("time"), theirs.t2m.mean("time"), rtol=1e-6)


def test_preferred_chunks_group_storage_chunks_and_each_task_reads_once(stores, monkeypatch):
    p = stores["v3_sharded"]
    calls = []
    original = LsioBackendArray._raw

    def counting(self, key):
        calls.append(key)
        return original(self, key)

    monkeypatch.setattr(LsioBackendArray, "_raw", counting)
    # t2m: float32 (23, 17, 29), shards (10, 6, 14) of 3.3 KiB: with an 8 KiB target (4 KiB at
    # least), blocks group shards along time (3 wanted, all 3 there are), then stop.
    ds = xr.open_dataset(p, engine="lsio", chunks={}, chunk_target_bytes=8 << 10)
    assert ds.t2m.encoding["preferred_chunks"] == {"time": 23, "lat": 6, "lon": 14}
    assert ds.t2m.chunks == ((23,), (6, 6, 5), (14, 14, 1))
    calls.clear()
    with dask.config.set(scheduler="threads"):
        total = float(ds.t2m.sum().compute())
    assert len(calls) == 3 * 3, "one engine call per dask task"
    ref = zarr.open_group(p, mode="r")["t2m"][...]
    np.testing.assert_allclose(total, np.nansum(ref.astype(np.float64)), rtol=1e-6)
    # The default target puts this small array in one block.
    assert xr.open_dataset(p, engine="lsio", chunks={}).t2m.chunks == ((23,), (17,), (29,))
    a = lsio.open(p)["t2m"]
    assert a.preferred_chunks(8 << 10) == (23, 6, 14)
    # Below the shard's size: one shard per block.
    assert a.preferred_chunks(4 << 10) == (10, 6, 14)


def test_open_mfdataset_matches_zarr(tmp_path):
    full = _dataset(nt=30)
    paths = []
    for i, (a, b) in enumerate([(0, 10), (10, 20), (20, 30)]):
        p = tmp_path / f"part{i}.zarr"
        full.isel(time=slice(a, b)).to_zarr(p, zarr_format=3, mode="w", consolidated=False)
        paths.append(p)
    with dask.config.set(scheduler="threads"):
        kw = dict(combine="by_coords", data_vars="minimal", coords="minimal", compat="override")
        ours = xr.open_mfdataset(paths, engine="lsio", **kw)
        theirs = xr.open_mfdataset(paths, engine="zarr", **kw)
        xr.testing.assert_identical(ours, theirs)
        for v in ("t2m", "pres", "i32", "f16", "u8", "flag"):
            np.testing.assert_array_equal(ours[v].values, full[v].values, err_msg=v)
        assert ours.t2m.chunks[0] == (10, 10, 10)
        ours = xr.open_mfdataset(paths, engine="lsio", combine="nested", concat_dim="time",
                                 parallel=True, data_vars="minimal", coords="minimal",
                                 compat="override")
        xr.testing.assert_identical(ours, theirs)


def test_open_dataset_arguments(stores, tmp_path):
    p = stores["v2"]
    ours = xr.open_dataset(p, engine="lsio", drop_variables=["pres", "u8"])
    theirs = xr.open_zarr(p, drop_variables=["pres", "u8"])
    xr.testing.assert_identical(ours, theirs)
    assert "pres" not in ours
    for kwargs in [dict(decode_times=False), dict(decode_coords=False),
                   dict(mask_and_scale=False), dict(decode_timedelta=False),
                   dict(consolidated=False), dict(concat_characters=False)]:
        xr.testing.assert_identical(xr.open_dataset(p, engine="lsio", **kwargs),
                                    xr.open_zarr(p, **kwargs))
    # A group inside a store.
    g = tmp_path / "grouped.zarr"
    _dataset(seed=5).to_zarr(g, group="inner/sub", zarr_format=3, mode="w", consolidated=True)
    xr.testing.assert_identical(xr.open_dataset(g, engine="lsio", group="inner/sub"),
                                xr.open_zarr(g, group="inner/sub"))
    xr.testing.assert_identical(xr.open_dataset(g, engine="lsio", group="/inner/sub", chunks={}),
                                xr.open_zarr(g, group="inner/sub"))
    # consolidated=False sees what the directories hold, not stale consolidated metadata.
    stale = tmp_path / "stale.zarr"
    _dataset().to_zarr(stale, zarr_format=2, mode="w", consolidated=True)
    extra = _dataset(seed=9)[["u8"]].rename(u8="late")
    extra.to_zarr(stale, zarr_format=2, mode="a", consolidated=False)
    assert "late" not in xr.open_dataset(stale, engine="lsio")
    assert "late" in xr.open_dataset(stale, engine="lsio", consolidated=False)


def test_to_dask_chunks(stores):
    p = stores["v3_sharded"]
    g = zarr.open_group(p, mode="r")
    ref = g["t2m"][...]
    with dask.config.set(scheduler="threads"):
        arr = lsio.to_dask(p, "t2m")
        assert arr.chunks == ((23,), (17,), (29,))
        np.testing.assert_array_equal(arr.compute(), ref)
        arr = lsio.to_dask(p, "t2m", target_bytes=8 << 10)
        assert arr.chunks == ((23,), (6, 6, 5), (14, 14, 1))
        np.testing.assert_array_equal(arr[2:17, 3].compute(), ref[2:17, 3])
        arr = lsio.to_dask(p, "t2m", chunks="storage")
        assert arr.chunks == ((10, 10, 3), (6, 6, 5), (14, 14, 1))
        arr = lsio.to_dask(p, "t2m", chunks=(7, 17, 29))
        assert arr.chunks[0] == (7, 7, 7, 2)
        np.testing.assert_array_equal(arr.compute(), ref)
        arr = lsio.to_dask(p, "t2m", chunks={"time": 4})
        assert arr.chunks[0][0] == 4
        np.testing.assert_allclose(float(np.nansum(arr)), float(np.nansum(ref)), rtol=1e-6)
        arr = lsio.to_dask(lsio.open(p)["pres"])
        np.testing.assert_array_equal(arr.compute(), g["pres"][...])


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as c, Client(c) as client:
        yield client


def _dataset_opens() -> int:
    from lsio import _lsio as ext

    return ext.dataset_cache_opens()


def test_pickled_handles_read_the_same_on_a_local_cluster(stores, cluster, tmp_path):
    p = tmp_path / "cluster.zarr"
    shutil.copytree(stores["v3_sharded"], p)
    ref = zarr.open_group(p, mode="r")["t2m"][...]
    before = cluster.run(_dataset_opens)
    arr = lsio.to_dask(p, "t2m", target_bytes=4 << 10)
    assert arr.npartitions > 20
    np.testing.assert_array_equal(arr.compute(scheduler=cluster), ref)
    after = cluster.run(_dataset_opens)
    assert set(after) == set(before) and len(after) == 2
    for w in after:
        assert after[w] - before[w] <= 1, f"worker {w} opened the dataset more than once"
    # The xarray engine through the cluster.
    ours = xr.open_dataset(p, engine="lsio", chunks={}, chunk_target_bytes=4 << 10)
    theirs = xr.open_zarr(p)
    np.testing.assert_allclose(ours.t2m.mean("time").compute(scheduler=cluster).values,
                               theirs.t2m.mean("time").values, rtol=1e-6)
    np.testing.assert_array_equal(ours.pres.compute(scheduler=cluster).values,
                                  theirs.pres.values)
    # A handle pickled here reads the same there.
    a = lsio.open(p)["i32"]
    got = cluster.submit(lambda h: h[3:9, ::2], a).result()
    np.testing.assert_array_equal(got, zarr.open_group(p, mode="r")["i32"][3:9, ::2])


def test_dask_stats_split_on_a_label_selection(stores, cluster):
    p = stores["v3_sharded"]
    kwargs = dict(var="t2m", sel={"time": slice("2000-01-03", "2000-01-19")}, over="time")
    dist = lsio.dask.stats(p, client=cluster, split_dim="time", tasks=4, **kwargs)
    local = lsio.stats(p, **kwargs)
    for name in local.data_vars:
        np.testing.assert_allclose(dist[name].values, local[name].values, rtol=1e-12)
    with pytest.raises(ValueError, match="split_dim"):
        lsio.dask.stats(p, client=cluster, split_dim="lat", var="t2m", over="time")


def _rewrite(p: Path, ds: xr.Dataset, **kwargs) -> None:
    shutil.rmtree(p)
    ds.to_zarr(p, mode="w", **kwargs)


def test_handles_survive_a_rewritten_store(stores, tmp_path):
    with dask.config.set(scheduler="threads"):
        _handles_survive_a_rewritten_store(stores, tmp_path)


def _handles_survive_a_rewritten_store(stores, tmp_path):
    p = tmp_path / "rewritten.zarr"
    shutil.copytree(stores["v3"], p)
    a = lsio.open(p)["t2m"]
    ds = xr.open_dataset(p, engine="lsio", cache=False)  # (xarray's cache would hide reads)
    dsk = xr.open_dataset(p, engine="lsio", chunks={})
    pickled = pickle.dumps(a)
    before = a[...]

    # New values, same encoding: read as they are now (as zarr-python reads them), not stale.
    new = _dataset(seed=2)
    new["t2m"].data[...] += 1  # the generator's t2m does not depend on the seed
    _rewrite(p, new, zarr_format=3, encoding=_encoding(3, False), consolidated=False)
    now = zarr.open_group(p, mode="r")["t2m"][...]
    assert not np.array_equal(now, before, equal_nan=True)
    np.testing.assert_array_equal(a[...], now)
    np.testing.assert_array_equal(ds.t2m.values, new.t2m.values)
    np.testing.assert_array_equal(pickle.loads(pickled)[...], now)

    # Another chunking and codec, same shape and dtype: the dataset is re-opened, the new chunks
    # decoded with the new metadata.
    enc = {"t2m": {"chunks": (7, 17, 4), "compressors": [BloscCodec(cname="lz4")]}}
    _rewrite(p, new, zarr_format=3, encoding=enc, consolidated=True)
    np.testing.assert_array_equal(a[...], now)
    np.testing.assert_array_equal(a[5:9, 2, ::3], now[5:9, 2, ::3])
    np.testing.assert_array_equal(dsk.t2m.values, new.t2m.values)

    # Another shape: a clear error from every handle, never data of the new array.
    longer = _dataset(seed=3, nt=30)
    _rewrite(p, longer, zarr_format=3, consolidated=False)
    for read in (lambda: a[0], lambda: ds.t2m.values, lambda: dsk.t2m.values,
                 lambda: pickle.loads(pickled)[...]):
        with pytest.raises(lsio.errors.ChangedError, match=r"shape \(23, 17, 29\) -> \(30, 17, 29\)"):
            read()
    # A fresh open sees the new store.
    np.testing.assert_array_equal(lsio.open(p)["t2m"][...], longer.t2m.values)

    # Another dtype, and CF attributes that would change decoded values.
    b = lsio.open(p)["t2m"]
    wider = longer.assign(t2m=longer.t2m.astype("float64"))
    _rewrite(p, wider, zarr_format=3, consolidated=False)
    with pytest.raises(lsio.errors.ChangedError, match="dtype float32 -> float64"):
        b[...]
    c = lsio.open(p)["pres"]
    assert c.dtype == np.float64
    _rewrite(p, wider, zarr_format=3, consolidated=False,
             encoding={"pres": {"dtype": "int16", "scale_factor": 0.1, "_FillValue": -1}})
    with pytest.raises(lsio.errors.ChangedError, match="'pres'.*dtype float64 -> int16"):
        c[...]
    d = lsio.open(p)["pres"]
    _rewrite(p, wider, zarr_format=3, consolidated=False,
             encoding={"pres": {"dtype": "int16", "scale_factor": 0.2, "_FillValue": -1}})
    with pytest.raises(lsio.errors.ChangedError, match="'pres'.*attributes"):
        d[...]  # the same stored type, but xarray would decode it differently

    # Gone.
    shutil.rmtree(p)
    with pytest.raises((lsio.errors.ChangedError, FileNotFoundError)):
        b[...]


def test_array_handles_and_coordinates(stores):
    p = stores["v2"]
    root = lsio.open(p)
    t2m = root["t2m"]
    theirs = xr.open_zarr(p)
    for dim in ("time", "lat", "lon"):
        np.testing.assert_array_equal(t2m.coords[dim], theirs[dim].values)
        assert t2m.coords[dim].dtype == theirs[dim].dtype
    assert root.is_coordinate("aux") and root.is_coordinate("time")
    assert not root.is_coordinate("t2m")
    a2 = pickle.loads(pickle.dumps(t2m))
    assert a2.shape == t2m.shape and a2.dims == t2m.dims and a2.attrs == t2m.attrs
    np.testing.assert_array_equal(a2[1:4], t2m[1:4])
    with pytest.raises(IndexError):
        t2m[23]
    with pytest.raises(IndexError):
        t2m[0, 0, 0, 0]
    with pytest.raises(TypeError):
        t2m[[1, 2]]
    np.testing.assert_array_equal(t2m[np.int64(-1), ..., np.int32(3)],
                                  zarr.open_group(p, mode="r")["t2m"][-1, :, 3])
    assert t2m[0:0].shape == (0, 17, 29)


def _own_threads() -> int:
    """Threads of this process, less io_uring's kernel workers (which come and go with the
    kernel's own policy)."""
    n = 0
    for tid in os.listdir("/proc/self/task"):
        try:
            n += not Path(f"/proc/self/task/{tid}/comm").read_text().startswith("iou-")
        except FileNotFoundError:
            pass
    return n


def test_small_reads_reuse_the_engine(tmp_path):
    p = tmp_path / "small.zarr"
    z = zarr.create_array(p, shape=(200, 256, 256), chunks=(1, 64, 64), dtype="f4",
                          compressors=None, zarr_format=3)
    data = np.random.default_rng(0).random((200, 256, 256), dtype=np.float32)
    z[...] = data
    a = lsio.open(p)
    rng = np.random.default_rng(1)
    a[0, 0, 0]  # warm up: the CPU pool and a reader exist from here on
    import threading

    threads = threading.active_count()
    tasks = _own_threads()
    idx = rng.integers(0, [200, 256, 256], size=(300, 3))
    start = time.perf_counter()
    for t, y, x in idx:
        assert a[t, y, x] == data[t, y, x]
    per_read = (time.perf_counter() - start) / len(idx)
    for t, y, x in idx[:50]:
        y, x = min(y, 192), min(x, 192)
        np.testing.assert_array_equal(a[t, y:y + 64, x:x + 64], data[t, y:y + 64, x:x + 64])
    assert threading.active_count() == threads
    assert _own_threads() == tasks, "no threads started per read"
    # Generous for a loaded 2-core machine: a read of a 16 KiB chunk from the page cache.
    print(f"{per_read * 1e6:.0f} us per single-element read")
    assert per_read < 2e-3, f"{per_read * 1e6:.0f} us per single-element read"


def test_ctrl_c_interrupts_a_long_read(tmp_path):
    import signal
    import threading

    p = tmp_path / "big.zarr"
    z = zarr.create_array(p, shape=(3000, 8192), chunks=(10, 8192), dtype="f8",
                          compressors=None, zarr_format=2)
    z[...] = 1.5
    a = lsio.open(p, io="posix")
    a[0:20]  # warm up: the CPU pool and a reader exist from here on
    main = threading.main_thread().ident
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.05, lambda: signal.pthread_kill(main, signal.SIGINT))
    timer.start()
    start = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            for _ in range(100):  # until the interrupt lands during a read
                a[...]
    finally:
        timer.join()
        signal.signal(signal.SIGINT, previous)
    assert time.monotonic() - start < 30
    # The handle still reads afterwards.
    assert float(a[5, 7]) == 1.5
