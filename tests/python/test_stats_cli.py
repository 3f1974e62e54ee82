"""`lsio stats` against numpy references on data written by xarray, zarr-python and
TensorStore (issue: levels 3 and 5)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import stats_data as sd
from conftest import assert_float32_result


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("stats")
    out = {}
    out["xr_v2"] = d / "xr_v2.zarr"
    sd.write_xarray_v2(out["xr_v2"])
    out["xr_v3"] = d / "xr_v3_sharded.zarr"
    sd.write_xarray_v3_sharded(out["xr_v3"])
    for fmt in (2, 3):
        p = d / f"zp_v{fmt}.zarr"
        out[f"zp_v{fmt}"] = (p, sd.write_zarr_python_group(p, fmt))
    p = d / "ts.zarr"
    out["ts"] = (p, sd.write_tensorstore(p))
    return out


@pytest.mark.parametrize("store", ["xr_v2", "xr_v3"])
def test_xarray_datasets_whole(cli, stores, store):
    path = stores[store]
    got = cli.json("stats", path, "--quiet")
    assert set(got["variables"]) == {"t2m", "pres"}  # coordinates skipped
    for var in ("t2m", "pres"):
        sd.check_stats(got["variables"][var], sd.reference(sd.xarray_reference(path, var)))
    assert got["bytes_read"] > 0
    # The all-NaN chunk of t2m was never written: it is accounted for without a read.
    if store == "xr_v2":
        assert got["missing_chunks"] >= 1


@pytest.mark.parametrize("fmt", [2, 3])
def test_zarr_python_every_dtype(cli, stores, fmt):
    path, arrays = stores[f"zp_v{fmt}"]
    got = cli.json("stats", path, "--quiet")
    for dt, (fill, values) in arrays.items():
        ref_values = sd.zarr_python_reference(fill, values, fmt)
        want = sd.reference(ref_values)
        exact = np.dtype(dt).kind in "iub"
        if exact:
            keep = ~np.isnan(ref_values)
            want["sum"] = int(sum(int(x) for x in values[keep].ravel()))
            if want["count"]:
                want["min"] = int(values[keep].min())
                want["max"] = int(values[keep].max())
        sd.check_stats(got["variables"][dt], want, exact_sum=exact)


def test_tensorstore_arrays(cli, stores):
    path, arrays = stores["ts"]
    got = cli.json("stats", path, "--quiet")
    for name, values in arrays.items():
        want = sd.reference(values)
        if name == "u16":
            want["sum"] = int(values.sum())
            want["min"], want["max"] = int(values.min()), int(values.max())
        sd.check_stats(got["variables"][name], want, exact_sum=name == "u16")


def test_selections_match_xarray(cli, stores):
    for store in ("xr_v2", "xr_v3"):
        path = stores[store]
        got = cli.json("stats", path, "--quiet", "--var", "t2m", "--var", "pres",
                       "--isel", "time=3:19", "--sel", "lat=50:-20",
                       "--sel", "lon=100:300")
        for var in ("t2m", "pres"):
            ref = sd.xarray_reference(path, var, isel={"time": slice(3, 19)},
                                      sel={"lat": slice(50, -20), "lon": slice(100, 300)})
            sd.check_stats(got["variables"][var], sd.reference(ref))
        got = cli.json("stats", path, "--quiet", "--var", "t2m",
                       "--sel", "time=2000-01-05:2000-01-11", "--isel", "lon=-3")
        ref = sd.xarray_reference(path, "t2m", isel={"lon": -3},
                                  sel={"time": slice("2000-01-05", "2000-01-11")})
        sd.check_stats(got["variables"]["t2m"], sd.reference(ref))


def test_over_time_written_as_zarr(cli, stores, tmp_path):
    path = stores["xr_v3"]
    out = tmp_path / "mean_map.zarr"
    cli.run("stats", path, "--quiet", "--var", "t2m", "--over", "time", "--out", out,
            "--stats", "count,nan_count,min,max,mean,std,sum")
    res = xr.open_zarr(out)
    ref = sd.xarray_reference(path, "t2m")
    src = xr.open_zarr(path)
    assert res["t2m_mean"].dims == ("lat", "lon")
    xr.testing.assert_identical(res["lat"].reset_coords(drop=True),
                                src["lat"].reset_coords(drop=True))
    np.testing.assert_array_equal(res["lon"].values, src["lon"].values)
    with np.errstate(all="ignore"):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            np.testing.assert_array_equal(res["t2m_count"].values, np.sum(~np.isnan(ref), axis=0))
            np.testing.assert_array_equal(res["t2m_nan_count"].values, np.sum(np.isnan(ref), axis=0))
            np.testing.assert_array_equal(res["t2m_min"].values, np.nanmin(ref, axis=0))
            np.testing.assert_array_equal(res["t2m_max"].values, np.nanmax(ref, axis=0))
            # float32 values: float32 results, as numpy and xarray give them.
            assert_float32_result(res["t2m_mean"].values, np.nanmean(ref, axis=0), rtol=1e-12)
            assert_float32_result(res["t2m_std"].values, np.nanstd(ref, axis=0), rtol=1e-9)
            assert_float32_result(res["t2m_sum"].values, np.nansum(ref, axis=0), rtol=1e-12)


def test_over_space_keeps_time_coordinate(cli, stores, tmp_path):
    path = stores["xr_v2"]
    out = tmp_path / "series.zarr"
    cli.run("stats", path, "--quiet", "--var", "pres", "--over", "lat", "--over", "lon",
            "--out", out, "--sel", "time=2000-01-03:2000-01-20")
    res = xr.open_zarr(out)
    src = xr.open_zarr(path).sel(time=slice("2000-01-03", "2000-01-20"))
    assert res["pres_mean"].dims == ("time",)
    np.testing.assert_array_equal(res["time"].values, src["time"].values)
    ref = src["pres"].values.astype(np.float64)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(res["pres_mean"].values, np.nanmean(ref, axis=(1, 2)),
                                   rtol=1e-12)
        np.testing.assert_allclose(res["pres_std"].values, np.nanstd(ref, axis=(1, 2)), rtol=1e-9)


def test_backends_threads_and_memory_give_identical_results(cli, stores):
    path = stores["xr_v3"]
    base = cli.json("stats", path, "--quiet", "--io", "uring", "--threads", "2")
    for args in (["--io", "posix", "--threads", "1"], ["--io", "uring", "--threads", "1"],
                 ["--io", "posix", "--threads", "2", "--max-memory", "1MiB"]):
        other = cli.json("stats", path, "--quiet", *args)
        assert other["variables"] == base["variables"], args


def test_histogram_matches_numpy(cli, stores):
    path = stores["xr_v2"]
    got = cli.json("stats", path, "--quiet", "--var", "t2m", "--stats", "count,hist:12")
    ref = sd.xarray_reference(path, "t2m")
    valid = ref[~np.isnan(ref)]
    counts, edges = np.histogram(valid.astype(np.float32), bins=12)
    h = got["variables"]["t2m"]["histogram"]
    assert h["counts"] == counts.tolist()
    assert h["edges"] == edges.astype(np.float64).tolist()  # numpy's float32 edges, exactly


def test_errors_are_clear(cli, stores, tmp_path):
    path = stores["xr_v2"]
    r = cli.run("stats", path, "--var", "nope", check=False)
    assert r.returncode == 1 and "variable 'nope' not found" in r.stderr
    r = cli.run("stats", path, "--over", "depth", check=False)
    assert r.returncode == 1 and "'depth'" in r.stderr
    r = cli.run("stats", path, "--stats", "median", check=False)
    assert r.returncode == 1 and "median" in r.stderr
    # A corrupt chunk: the error names the variable, the chunk and the file; nothing on stdout.
    broken = tmp_path / "broken.zarr"
    shutil.copytree(path, broken)
    chunk = broken / "t2m" / "2.1.1"
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 0xFF
    data[20:40] = b"\0" * 20
    chunk.write_bytes(bytes(data))
    r = cli.run("stats", broken, "--var", "t2m", "--json", check=False)
    assert r.returncode == 1, r.stdout
    assert "variable 't2m'" in r.stderr and "2.1.1" in r.stderr and str(chunk) in r.stderr
    assert r.stdout == ""
    # --on-error skip: the rest is computed and the skipped chunk reported.
    got = cli.json("stats", broken, "--quiet", "--var", "t2m", "--on-error", "skip")
    v = got["variables"]["t2m"]
    assert len(v["skipped_chunks"]) == 1 and "2.1.1" in v["skipped_chunks"][0]
    assert v["skipped_elements"] == 5 * 6 * 7
    ref = sd.xarray_reference(path, "t2m")
    ref[10:15, 6:12, 7:14] = np.nan  # the skipped chunk's elements are excluded
    want = sd.reference(ref)
    assert v["count"] == want["count"]
