"""The Python package: lsio.open / indexing, the xarray backend, lsio.stats, lsio.to_dask,
lsio.dask.stats on a LocalCluster, error mapping and Ctrl-C (issue: Python API, xarray, dask)."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from pathlib import Path

import numcodecs
import numpy as np
import pytest
import xarray as xr
import zarr
from zarr.codecs import BloscCodec, ZstdCodec

import lsio
import stats_data as sd
from conftest import FLOAT32_ROUNDING


def _dataset(seed: int = 1) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    ds = sd.xarray_dataset()
    ds["i32"] = (("time", "lat"), rng.integers(-1000, 1000, size=(23, 17), dtype=np.int32))
    ds["u8"] = (("lat", "lon"), rng.integers(0, 255, size=(17, 29), dtype=np.uint8))
    ds["f16"] = (("time", "lon"), rng.standard_normal((23, 29)).astype(np.float16))
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


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("api")
    out = {}
    for name, fmt, sharded, consolidated in [("v2", 2, False, True), ("v2_plain", 2, False, False),
                                             ("v3", 3, False, False), ("v3_sharded", 3, True, True)]:
        p = d / f"{name}.zarr"
        _dataset().to_zarr(p, zarr_format=fmt, encoding=_encoding(fmt, sharded), mode="w",
                           consolidated=consolidated)
        out[name] = p
    return out


@pytest.mark.parametrize("name", ["v2", "v2_plain", "v3", "v3_sharded"])
def test_open_dataset_is_identical_to_open_zarr(stores, name):
    p = stores[name]
    ours = xr.open_dataset(p, engine="lsio")
    theirs = xr.open_zarr(p)
    xr.testing.assert_identical(ours, theirs)
    # also without CF decoding
    xr.testing.assert_identical(xr.open_dataset(p, engine="lsio", mask_and_scale=False,
                                                decode_times=False),
                                xr.open_zarr(p, mask_and_scale=False, decode_times=False))
    # and lazily indexed
    xr.testing.assert_identical(ours.isel(time=slice(3, 9), lat=[1, 4, 2]).t2m,
                                theirs.isel(time=slice(3, 9), lat=[1, 4, 2]).t2m)


def test_guess_can_open(stores, tmp_path):
    entry = lsio.xarray_backend.LsioBackendEntrypoint()
    assert entry.guess_can_open(stores["v3"])
    assert not entry.guess_can_open(tmp_path)
    assert not entry.guess_can_open(tmp_path / "x.nc")


@pytest.mark.parametrize("name", ["v2", "v3_sharded"])
def test_open_and_index_like_zarr(stores, name):
    p = stores[name]
    root = lsio.open(p)
    assert isinstance(root, lsio.Group) and set(root.arrays()) >= {"t2m", "pres", "time"}
    g = zarr.open_group(p, mode="r")
    for var in ("t2m", "pres", "i32", "u8", "f16", "flag", "time", "lat"):
        a, z = root[var], g[var]
        assert a.shape == z.shape and a.dtype == z.dtype, var
        full = z[...]  # numpy indexing of zarr-python's read is the reference
        assert a.dims == tuple(xr.open_zarr(p)[var].dims), var
        for key in [(Ellipsis,), (0,), (slice(1, 5),), (slice(None, None, -2),), (-1,),
                    (slice(2, 20, 3), Ellipsis)]:
            key = key[: a.ndim] if Ellipsis not in key else key
            np.testing.assert_array_equal(a[key], full[key], err_msg=f"{var} {key}")
    t2m = root["t2m"]
    np.testing.assert_array_equal(t2m.read(time=3, lon=slice(2, 9)), g["t2m"][3, :, 2:9])
    assert t2m.chunks == ((5, 3, 7) if name == "v3_sharded" else (5, 6, 7))
    assert t2m.shards == ((10, 6, 14) if name == "v3_sharded" else None)
    np.testing.assert_array_equal(t2m.coords["time"], xr.open_zarr(p)["time"].values)
    assert root["pres"].attrs["scale_factor"] == 0.05


def test_shared_fixtures_read_like_zarr_python():
    from conftest import FIXTURES as base
    for sub in ["v2/array_blosc_F.zarr", "v2/array_zstd_C.zarr", "v3/array_zstd.zarr",
                "v3_zarr_python/array_gzip.zarr"]:
        path = base / sub
        if not path.exists():
            continue
        a = lsio.open(path)
        np.testing.assert_array_equal(a[...], zarr.open_array(path, mode="r")[...])
    with pytest.raises(lsio.errors.NotSupportedError, match="pcodec"):
        lsio.open(base / "v2/array_pcodec_C.zarr")[...]


def test_stats_dataset_matches_numpy(stores):
    p = stores["v3_sharded"]
    ds = lsio.stats(p, var=["t2m", "pres"], stats=["mean", "std", "count", "min"])
    for var in ("t2m", "pres"):
        ref = sd.reference(sd.xarray_reference(p, var))
        assert int(ds[f"{var}_count"]) == ref["count"]
        assert float(ds[f"{var}_min"]) == ref["min"]
        np.testing.assert_allclose(float(ds[f"{var}_mean"]), ref["mean"], rtol=1e-12)
        np.testing.assert_allclose(float(ds[f"{var}_std"]), ref["std"], rtol=1e-9)
    m = lsio.stats(p, var="t2m", over="time", sel={"lat": slice(60, -30)}, isel={"lon": slice(0, 20)})
    src = xr.open_zarr(p).t2m.sel(lat=slice(60, -30)).isel(lon=slice(0, 20)).astype("f8")
    # The per-cell mean of float32 values is float32 (as xarray's), the float64 mean rounded.
    assert m["t2m_mean"].dtype == np.float32
    xr.testing.assert_allclose(m["t2m_mean"], src.mean("time").rename("t2m_mean")
                               .assign_attrs(m["t2m_mean"].attrs).reset_coords(drop=True),
                               rtol=1e-12 + FLOAT32_ROUNDING)
    np.testing.assert_array_equal(m["lat"].values, src["lat"].values)


def test_stats_with_progress_bar(stores, capsys):
    ds = lsio.stats(stores["v2"], var="t2m", progress=True)
    assert int(ds["t2m_count"]) > 0


def test_to_dask_reads_through_lsio(stores):
    import dask

    p = stores["v3_sharded"]
    arr = lsio.to_dask(p, "t2m", chunks="storage")
    assert arr.chunks[0][0] == 10  # one shard per task
    with dask.config.set(scheduler="threads"):
        np.testing.assert_array_equal(arr[2:17].compute(), zarr.open_group(p)["t2m"][2:17])
        np.testing.assert_allclose(float(np.nansum(arr)),
                                   float(np.nansum(zarr.open_group(p)["t2m"][...])), rtol=1e-6)


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as c, Client(c) as client:
        yield client


def test_dask_distributed_stats_equal_local(stores, cluster):
    p = stores["v3_sharded"]
    for kwargs in [dict(var=["t2m", "pres"]),
                   dict(var="t2m", over="time", isel={"lon": slice(3, 25)}),
                   dict(var="pres", over=["lat", "lon"], tasks=3, split_dim="lat")]:
        dist = lsio.dask.stats(p, client=cluster, **kwargs)
        local = lsio.stats(p, **{k: v for k, v in kwargs.items() if k not in ("tasks", "split_dim")})
        assert set(dist.data_vars) == set(local.data_vars)
        for name in local.data_vars:
            np.testing.assert_allclose(dist[name].values, local[name].values, rtol=1e-12,
                                       err_msg=f"{kwargs} {name}")
        for c in local.coords:
            np.testing.assert_array_equal(dist[c].values, local[c].values)
        assert dist.attrs["bytes_read"] > 0


def test_errors_map_to_python_exceptions(stores, tmp_path):
    with pytest.raises(FileNotFoundError):
        lsio.open(tmp_path / "nowhere.zarr")
    with pytest.raises(FileNotFoundError):
        lsio.stats(tmp_path / "nowhere.zarr")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError):
        lsio.open(tmp_path / "empty")
    p = stores["v2"]
    with pytest.raises(KeyError, match="nope"):
        lsio.stats(p, var="nope")
    with pytest.raises(KeyError):
        lsio.open(p)["nope"]
    with pytest.raises(KeyError, match="depth"):
        lsio.stats(p, over="depth")
    with pytest.raises(ValueError):
        lsio.stats(p, stats="median")
    with pytest.raises(ValueError):
        lsio.stats(p, var="t2m", sel={"time": "not a date"})
    with pytest.raises(IndexError):
        lsio.open(p)["t2m"][100]
    broken = tmp_path / "broken.zarr"
    shutil.copytree(p, broken)
    chunk = broken / "t2m" / "1.1.1"
    # Truncated: (flipping bits inside a blosc chunk stored without compression would only
    # change values; only a checksum codec catches that).
    chunk.write_bytes(chunk.read_bytes()[:-100])
    with pytest.raises(lsio.errors.CorruptDataError) as e:
        lsio.stats(broken, var="t2m")
    assert str(chunk) in str(e.value) and "t2m" in str(e.value)
    with pytest.raises(lsio.Error):
        lsio.open(broken)["t2m"][...]


def _task_count() -> int:
    return len(os.listdir("/proc/self/task"))


def test_ctrl_c_interrupts_promptly_and_leaves_no_threads(tmp_path):
    # Big enough to take a while: ~200 MB of float64 in small chunks, uncompressed.
    p = tmp_path / "big.zarr"
    z = zarr.create_array(p, shape=(3000, 8192), chunks=(10, 8192), dtype="f8",
                          compressors=None, zarr_format=2)
    z[...] = 1.5
    lsio.stats(p, max_memory="16MiB")  # warm up: the CPU pool's threads exist from here on
    baseline_py = {t.name for t in threading.enumerate()}
    baseline_tasks = _task_count()
    main = threading.main_thread().ident
    # A process started in the background by a non-interactive shell (as a CI runner may do)
    # inherits SIGINT ignored, and Python then installs no KeyboardInterrupt handler: install
    # Python's own for the test, as an interactive session has it.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.05, lambda: signal.pthread_kill(main, signal.SIGINT))
    timer.start()
    start = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            for _ in range(100):  # until the interrupt lands during a call
                lsio.stats(p, max_memory="16MiB", io="posix")
    finally:
        timer.join()
        signal.signal(signal.SIGINT, previous)
    assert time.monotonic() - start < 30
    time.sleep(0.2)
    assert {t.name for t in threading.enumerate()} <= baseline_py
    assert _task_count() <= baseline_tasks
