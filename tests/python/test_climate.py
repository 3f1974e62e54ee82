"""Climate reductions (issue 17): lsio.stats(groupby=..., resample=...) against xarray's
ds.groupby(...) / ds.resample(...) reductions on stores written by xarray, with gaps (missing
days), NaNs, and CF packing."""

import subprocess

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import zarr
from packaging.version import Version

import lsio

from conftest import FLOAT32_ROUNDING, assert_float32_result, cli_path

LSIO = str(cli_path())


STATS = ["count", "mean", "std", "min", "max", "sum"]


def _write(tmp_path, times, fmt=3, packed=False, seed=0):
    rng = np.random.default_rng(seed)
    shape = (len(times), 5, 7)
    data = rng.normal(280, 10, shape).astype("float32")
    data[rng.random(shape) < 0.05] = np.nan
    ds = xr.Dataset(
        {"t2m": (("time", "lat", "lon"), data, {"units": "K"})},
        coords={"time": times, "lat": np.linspace(50, 40, 5), "lon": np.arange(7.0)},
    )
    enc = {"t2m": {"chunks": (7, 5, 4)}}
    if packed:
        ds["t2m"] = ds.t2m.fillna(-9999)
        enc["t2m"].update({"dtype": "int16", "scale_factor": 0.01, "add_offset": 280.0,
                           "_FillValue": -32768})
    path = tmp_path / f"clim_v{fmt}_{int(packed)}.zarr"
    ds.to_zarr(path, zarr_format=fmt, encoding=enc, consolidated=True)
    return path


def _times():
    t = pd.date_range("1999-11-20", periods=120, freq="18h")
    # a gap of several days, and an unsorted-free but irregular spacing
    return t.delete(range(30, 41))


def _reference(ds, how, arg):
    # xarray on the float64 values: its float32 reductions carry float32 rounding (~1e-6),
    # lsio accumulates in float64.
    t2m = ds.t2m.astype("float64")
    g = t2m.groupby(arg) if how == "groupby" else t2m.resample({"time": arg})
    return {s: getattr(g, s)() for s in STATS}


@pytest.mark.parametrize("fmt,how,arg", [
    (2, "groupby", "time.month"), (3, "groupby", "time.season"), (3, "groupby", "time.dayofyear"),
    (3, "groupby", "time.hour"), (3, "groupby", "time.year"),
    (2, "resample", "1D"), (3, "resample", "6h"), (3, "resample", "W"), (3, "resample", "MS"),
    (3, "resample", "ME"), (3, "resample", "2D"), (3, "resample", "YS"), (3, "resample", "YE"),
    (3, "resample", "3MS"), (3, "resample", "2ME"),
])
def test_matches_xarray(tmp_path, fmt, how, arg):
    path = _write(tmp_path, _times(), fmt=fmt)
    ref_ds = xr.open_zarr(path)
    ref = _reference(ref_ds, how, arg)
    kw = {"groupby": arg} if how == "groupby" else {"resample": {"time": arg}}
    got = lsio.stats(path, var="t2m", stats=STATS, **kw)
    dim = arg.split(".")[1] if how == "groupby" else "time"
    for s in STATS:
        r = ref[s].transpose(dim, "lat", "lon")
        g = got[f"t2m_{s}"]
        assert g.dims == r.dims, (s, g.dims, r.dims)
        np.testing.assert_array_equal(g[dim].values, r[dim].values)
        if s == "count":
            np.testing.assert_array_equal(g.values, r.values)
        else:
            # float32, as xarray's (below): the float64 result rounded once.
            assert_float32_result(g.values, r.values, rtol=1e-12, atol=1e-9, equal_nan=True,
                                  err_msg=f"{how} {arg} {s}")
        # And xarray as a user runs it, on float32, within float32 rounding.
        native = getattr(ref_ds.t2m.groupby(arg) if how == "groupby"
                         else ref_ds.t2m.resample({"time": arg}), s)().transpose(dim, "lat", "lon")
        np.testing.assert_allclose(g.values, native.values, rtol=1e-5, atol=1e-6, equal_nan=True)


def test_packed_and_selection(tmp_path):
    path = _write(tmp_path, _times(), fmt=2, packed=True, seed=3)
    ref = xr.open_zarr(path).t2m.sel(lat=slice(48, 42)).groupby("time.month").mean()
    got = lsio.stats(path, var="t2m", stats=["mean"], groupby="time.month",
                     sel={"lat": slice(48, 42)})
    np.testing.assert_allclose(got.t2m_mean.values, ref.transpose("month", "lat", "lon").values,
                               rtol=1e-6, equal_nan=True)
    np.testing.assert_array_equal(got.lat.values, ref.lat.values)


def test_cli_and_out(tmp_path):
    path = _write(tmp_path, _times(), fmt=3)
    out = tmp_path / "monthly.zarr"
    # The season labels are strings: in Zarr v3 (the default) lsio writes them as the
    # fixed_length_utf32 data type, which zarr-python reads from 3.1 on; with an older zarr
    # (scripts/test-oldest's 3.0.10) the output is asked for as Zarr v2.
    old_zarr = Version(zarr.__version__) < Version("3.1")
    r = subprocess.run([LSIO, "stats", str(path), "--var", "t2m", "--groupby", "time.season",
                        "--stats", "mean,std", "--out", str(out), "--quiet",
                        *(["--out-format", "2"] if old_zarr else [])],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    got = xr.open_zarr(out)
    ref = xr.open_zarr(path).t2m.groupby("time.season").mean().transpose("season", "lat", "lon")
    np.testing.assert_array_equal(got.season.values, ref.season.values)
    np.testing.assert_allclose(got.t2m_mean.values, ref.values, rtol=1e-6, equal_nan=True)


@pytest.mark.parametrize("args,message", [
    (["--groupby", "time.week"], "unknown component 'week'"),
    (["--resample", "time=1M"], "use ME/MS"),
    (["--resample", "time=3Q"], "'Q'"),
    (["--groupby", "time.month", "--over", "lat"], "drop --over"),
    (["--groupby", "lat.month"], "not a time"),
])
def test_errors(tmp_path, args, message):
    path = _write(tmp_path, _times(), fmt=3)
    r = subprocess.run([LSIO, "stats", str(path), "--var", "t2m", "--quiet", *args],
                       capture_output=True, text=True)
    assert r.returncode == 1
    assert message in r.stderr, r.stderr


def test_accumulators_beyond_the_budget_are_an_error_naming_the_memory(tmp_path):
    # 4 months x 5 x 7 cells of 64 bytes: 8960 bytes of accumulators.
    path = _write(tmp_path, _times(), fmt=3)
    assert len(np.unique(pd.DatetimeIndex(_times()).month)) == 4
    r = subprocess.run([LSIO, "stats", str(path), "--var", "t2m", "--quiet", "--groupby",
                        "time.month", "--max-memory", "8KiB"], capture_output=True, text=True)
    assert r.returncode == 1
    assert ("variable 't2m': per-cell statistics over 4 month x 5 lat x 7 lon (140 cells) "
            "need 8.8 KiB of accumulators, more than the memory budget (8.0 KiB)") in r.stderr, \
        r.stderr


# --- per-cell statistics in passes over tiles, when the whole grid does not fit the budget ---

def _write_tiled(tmp_path, fmt=3):
    """Daily steps over 3 months (with a gap of 10 days) on a 40 x 48 grid in (10, 16, 16)
    chunks, with NaNs: the grid of STATS is 3 x 40 x 48 cells of 56 bytes (322 KiB)."""
    rng = np.random.default_rng(7)
    times = pd.date_range("2001-01-20", periods=60, freq="D").delete(range(20, 30))
    shape = (len(times), 40, 48)
    data = rng.normal(280, 10, shape).astype("float32")
    data[rng.random(shape) < 0.05] = np.nan
    data[:, 3, 5] = np.nan  # a cell with no values at all
    ds = xr.Dataset(
        {"t2m": (("time", "lat", "lon"), data, {"units": "K"})},
        coords={"time": times, "lat": np.linspace(60, 21, 40), "lon": np.arange(48.0)},
    )
    path = tmp_path / f"tiled_v{fmt}.zarr"
    ds.to_zarr(path, zarr_format=fmt, encoding={"t2m": {"chunks": (10, 16, 16)}},
               consolidated=True)
    return path


# Budgets whose share for accumulators is less than the whole grid needs (the first and last
# runs used to fail naming them), more than a tile needs.
@pytest.mark.parametrize("how,arg,sel,budget", [
    ("groupby", "time.month", None, "256KiB"),
    # unaligned starts
    ("groupby", "time.month", {"lat": slice(57, 30), "lon": slice(5, 40)}, "192KiB"),
    ("resample", "W", None, "384KiB"),  # the week of the gap is NaN in every tile
    # Not even one chunk column over every group fits (share 20 KiB): a pass for each group
    # of each column, chunks across two groups read in both.
    ("groupby", "time.month", None, "140KiB"),
    ("resample", "W", {"lat": slice(57, 30)}, "140KiB"),
])
def test_grid_beyond_the_budget_runs_in_tiles_and_matches_xarray(tmp_path, how, arg, sel,
                                                                 budget):
    path = _write_tiled(tmp_path)
    ds = xr.open_zarr(path)
    t2m = ds.t2m.astype("float64")
    if sel:
        t2m = t2m.sel(sel)
    g = t2m.groupby(arg) if how == "groupby" else t2m.resample({"time": arg})
    kw = {"groupby": arg} if how == "groupby" else {"resample": {"time": arg}}
    if sel:
        kw["sel"] = sel
    got = lsio.stats(path, var="t2m", stats=STATS, max_memory=budget, threads=2, **kw)
    whole = lsio.stats(path, var="t2m", stats=STATS, **kw)
    dim = arg.split(".")[1] if how == "groupby" else "time"
    for s in STATS:
        r = getattr(g, s)().transpose(dim, "lat", "lon")
        assert got[f"t2m_{s}"].dims == r.dims
        np.testing.assert_array_equal(got[dim].values, r[dim].values)
        np.testing.assert_array_equal(got.lat.values, r.lat.values)
        np.testing.assert_array_equal(got.lon.values, r.lon.values)
        if s == "count":
            np.testing.assert_array_equal(got[f"t2m_{s}"].values, r.values)
        else:
            assert_float32_result(got[f"t2m_{s}"].values, r.values, rtol=1e-12, atol=1e-9,
                                  equal_nan=True, err_msg=s)
        # As one grid over everything, up to the order cells take their chunks in (arrival
        # order: the last bit of the float64 value may differ between any two runs, and then
        # its float32 rounding by one ulp).
        np.testing.assert_allclose(got[f"t2m_{s}"].values, whole[f"t2m_{s}"].values,
                                   rtol=2 * FLOAT32_ROUNDING, atol=0, equal_nan=True)
    if budget == "140KiB":
        assert got.attrs["chunks"] > whole.attrs["chunks"]
    else:
        assert got.attrs["chunks"] == whole.attrs["chunks"]


def test_over_time_beyond_the_budget_runs_in_tiles_and_matches_numpy(tmp_path):
    path = _write_tiled(tmp_path, fmt=2)
    data = xr.open_zarr(path).t2m.values.astype("float64")
    # 40 x 48 cells x 64 bytes (every statistic): 120 KiB, over a 96 KiB budget.
    got = lsio.stats(path, var="t2m", over=["time"], max_memory="96KiB", threads=1,
                     stats=["count", "nan_count", "min", "max", "sum", "mean", "std", "var"])
    with np.errstate(invalid="ignore"), pytest.warns(RuntimeWarning):
        np.testing.assert_array_equal(got.t2m_count.values, np.sum(~np.isnan(data), axis=0))
        np.testing.assert_array_equal(got.t2m_nan_count.values, np.sum(np.isnan(data), axis=0))
        np.testing.assert_array_equal(got.t2m_min.values, np.nanmin(data, axis=0))
        np.testing.assert_array_equal(got.t2m_max.values, np.nanmax(data, axis=0))
        assert_float32_result(got.t2m_sum.values, np.nansum(data, axis=0), rtol=1e-12)
        assert_float32_result(got.t2m_mean.values, np.nanmean(data, axis=0), rtol=1e-12,
                              equal_nan=True)
        assert_float32_result(got.t2m_std.values, np.nanstd(data, axis=0), rtol=1e-9,
                              equal_nan=True)
        assert_float32_result(got.t2m_var.values, np.nanvar(data, axis=0), rtol=1e-9,
                              equal_nan=True)


def test_cli_out_in_tiles(tmp_path):
    path = _write_tiled(tmp_path)
    out = tmp_path / "monthly.zarr"
    r = subprocess.run([LSIO, "stats", str(path), "--var", "t2m", "--groupby", "time.month",
                        "--stats", "mean,std", "--max-memory", "192KiB", "--out", str(out),
                        "--quiet"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    got = xr.open_zarr(out)
    g = xr.open_zarr(path).t2m.astype("float64").groupby("time.month")
    for s in ("mean", "std"):
        ref = getattr(g, s)().transpose("month", "lat", "lon")
        assert_float32_result(got[f"t2m_{s}"].values, ref.values, rtol=1e-12, atol=1e-9,
                              equal_nan=True)


def test_not_even_one_tile_fits_names_the_tile(tmp_path):
    path = _write_tiled(tmp_path)
    r = subprocess.run([LSIO, "stats", str(path), "--var", "t2m", "--quiet", "--groupby",
                        "time.month", "--stats", "mean", "--max-memory", "16KiB"],
                       capture_output=True, text=True)
    assert r.returncode == 1
    # mean: count, sum and the two-part mean, 32 bytes a cell; the smallest tile is one month
    # over one chunk column.
    assert ("per-cell statistics over 3 month x 40 lat x 48 lon (5760 cells) need 180.0 KiB of "
            "accumulators, more than the memory budget (16.0 KiB); in passes over tiles of one "
            "chunk (1 month x 16 lat x 16 lon) a tile needs 8.0 KiB") in r.stderr, r.stderr


from peak_rss import LAUNCHER as _LAUNCHER  # noqa: E402


def test_peak_rss_of_a_climatology_whose_grid_does_not_fit_stays_within_the_budget(tmp_path):
    import sys
    # 48 daily float32 steps of 384 x 384 (27 MiB) in (8, 128, 128) chunks, 3 months: the mean
    # and std grid is 3 x 384 x 384 cells x 40 bytes = 17.6 MiB, over the 16 MiB budget.
    times = pd.date_range("2003-01-15", periods=48, freq="D")
    rng = np.random.default_rng(1)
    data = rng.normal(280, 10, (48, 384, 384)).astype("float32")
    ds = xr.Dataset({"t2m": (("time", "y", "x"), data)},
                    coords={"time": times, "y": np.arange(384.0), "x": np.arange(384.0)})
    path = tmp_path / "big.zarr"
    ds.to_zarr(path, zarr_format=3, consolidated=True,
               encoding={"t2m": {"chunks": (8, 128, 128), "compressors": None}})
    out = tmp_path / "clim.zarr"
    r = subprocess.run(
        [sys.executable, "-S", "-c", _LAUNCHER, LSIO, "stats", str(path), "--var", "t2m",
         "--groupby", "time.month", "--stats", "mean,std", "--max-memory", "16MiB",
         "--threads", "2", "--out", str(out), "--quiet"],
        capture_output=True, text=True, check=True)
    code, peak = map(int, r.stdout.splitlines()[-1].split())
    assert code == 0, r.stderr
    # The budget, the finished statistics (2 x 3 x 384 x 384 float32: 3.4 MiB, which the
    # budget does not hold), and the fixed overhead of the binary, its libraries and thread
    # stacks (32 MiB, as the rechunk test states it).
    assert peak <= (16 + 4 + 32) << 20, f"peak RSS {peak / 2**20:.0f} MiB"
    ref = ds.t2m.astype("float64").groupby("time.month")
    got = xr.open_zarr(out)
    assert_float32_result(got.t2m_mean.values, ref.mean().values, rtol=1e-12)
    assert_float32_result(got.t2m_std.values, ref.std().values, rtol=1e-9)
