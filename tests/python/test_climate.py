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

from conftest import cli_path

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
            np.testing.assert_allclose(g.values, r.values, rtol=1e-12, atol=1e-9, equal_nan=True,
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
