"""Per-cell exact quantiles (issue 17, item 5): lsio.stats(..., over=..., stats=[
"quantile:..."]) and lsio stats --over DIM --stats quantile:... against numpy.nanquantile(x, q,
axis=<reduced axes>, method="linear") on the values zarr-python (or xarray, for CF-packed data)
reads, and xarray's .quantile(q, dim=...); tiles over chunk columns; the budget error; --out."""

import contextlib
import subprocess
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import zarr

import lsio

from conftest import assert_float32_result, cli_path

LSIO = str(cli_path())
QS = [0.0, 0.01, 0.25, 0.5, 0.75, 0.99, 1.0]
SHAPE = (37, 13, 11)  # t, y, x


def _values(dtype, rng):
    if dtype == "int16":
        return rng.integers(-30000, 30000, SHAPE).astype("int16")
    v = rng.normal(0, 5, SHAPE)
    v[rng.random(SHAPE) < 0.1] = np.nan
    v[:, 2, 3] = np.nan  # an all-NaN cell over t
    v[5:9, 1, :] = 1.25   # ties
    return v.astype(dtype)


def _store(tmp_path, values, chunks, encoding=None, name="v"):
    ds = xr.Dataset({name: (("t", "y", "x"), values)})
    path = tmp_path / f"{name}.zarr"
    ds.to_zarr(path, zarr_format=3, consolidated=False,
               encoding={name: {"chunks": chunks, **(encoding or {})}})
    return path


def _reference(path, isel, over):
    """The selected values as xarray decodes them (what lsio's statistics are of), checked
    against zarr-python's read of the stored array, and the reduced axes."""
    decoded = xr.open_zarr(path).v.values
    raw = zarr.open_array(str(path / "v"), mode="r")[...]
    np.testing.assert_array_equal(decoded, raw)
    index = tuple(isel.get(d, slice(None)) for d in ("t", "y", "x"))
    axes = tuple(i for i, d in enumerate(("t", "y", "x")) if d in over)
    return decoded[index], axes


@pytest.mark.parametrize("dtype", ["float32", "float64", "int16"])
@pytest.mark.parametrize("chunks", [(37, 13, 11), (5, 4, 3), (8, 6, 5)])
@pytest.mark.parametrize("over", [("t",), ("t", "x")])
def test_equal_to_numpy(tmp_path, dtype, chunks, over):
    rng = np.random.default_rng(hash((dtype, chunks, over)) % 2**32)
    path = _store(tmp_path, _values(dtype, rng), chunks)
    # A selection whose edges do not fall on chunk edges.
    isel = {"t": slice(3, 34), "x": slice(1, 10)}
    part, axes = _reference(path, isel, over)
    with _quiet():
        want = np.nanquantile(part, QS, axis=axes, method="linear")
        want_mean = np.nanmean(part.astype("float64"), axis=axes)
    got = lsio.stats(path, var="v", over=list(over), isel=isel, threads=2,
                     stats=["mean", "quantile:" + ",".join(map(str, QS))])
    kept = tuple(d for d in ("t", "y", "x") if d not in over)
    assert got.v_quantile.dims == ("quantile",) + kept
    np.testing.assert_array_equal(got["quantile"].values, QS)
    np.testing.assert_array_equal(got.v_quantile.values, want)
    # Summation order differs from numpy's: errors relative to the data's scale (values of
    # order 5; a mean near zero has a large relative error: 1.08e-12 seen with numpy 1.26).
    # float32 values have a float32 mean (numpy's type), the float64 mean rounded once.
    check = assert_float32_result if dtype == "float32" else np.testing.assert_allclose
    check(got.v_mean.values, want_mean, rtol=1e-12, atol=1e-12 * np.nanmax(np.abs(part)),
          equal_nan=True)
    # One quantile alone.
    one = lsio.stats(path, var="v", over=list(over), isel=isel, stats=["quantile:0.5"])
    np.testing.assert_array_equal(one.v_quantile.values, want[QS.index(0.5)][None])


@contextlib.contextmanager
def _quiet():
    """Without numpy's warnings about all-NaN slices, which the tests expect."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def test_all_nan_cell_is_nan(tmp_path):
    values = _values("float32", np.random.default_rng(1))
    path = _store(tmp_path, values, (4, 4, 4))
    got = lsio.stats(path, var="v", over="t", stats=["quantile:0.1,0.9"])
    assert np.isnan(got.v_quantile.values[:, 2, 3]).all()
    assert not np.isnan(got.v_quantile.values[:, 0, 0]).any()


def test_packed_negative_scale_equals_xarray_quantile(tmp_path):
    rng = np.random.default_rng(7)
    values = rng.normal(10, 3, SHAPE)
    values[rng.random(SHAPE) < 0.05] = np.nan
    path = _store(tmp_path, values, (6, 5, 4),
                  {"dtype": "int16", "scale_factor": -0.01, "add_offset": 5.0,
                   "_FillValue": -32768})
    sel_t = slice(2, 30)
    # Loaded: xarray's quantile of a dask-backed array can differ from numpy's in the last bit.
    ref = xr.open_zarr(path).v.isel(t=sel_t).load().quantile(QS, dim="t")
    got = lsio.stats(path, var="v", over="t", isel={"t": sel_t},
                     stats=["quantile:" + ",".join(map(str, QS))])
    assert got.v_quantile.dims == ref.dims
    np.testing.assert_array_equal(got["quantile"].values, ref["quantile"].values)
    np.testing.assert_array_equal(got.v_quantile.values, ref.values)


def test_label_selection(tmp_path):
    values = _values("float64", np.random.default_rng(3))
    ds = xr.Dataset({"v": (("t", "y", "x"), values)},
                    coords={"y": np.arange(13) * 10.0, "x": np.arange(11) * 0.5})
    path = tmp_path / "c.zarr"
    ds.to_zarr(path, zarr_format=2, consolidated=True, encoding={"v": {"chunks": (7, 4, 3)}})
    got = lsio.stats(path, var="v", over="t", sel={"y": slice(20, 90), "x": slice(1, 4)},
                     stats=["quantile:0.3,0.7"])
    ref = xr.open_zarr(path).v.sel(y=slice(20, 90), x=slice(1, 4)).load().quantile(
        [0.3, 0.7], dim="t")
    np.testing.assert_array_equal(got.v_quantile.values, ref.values)
    np.testing.assert_array_equal(got.y.values, ref.y.values)
    np.testing.assert_array_equal(got.x.values, ref.x.values)


def test_beyond_the_budget_runs_in_tiles(tmp_path):
    rng = np.random.default_rng(11)
    values = rng.normal(size=(200, 40, 40)).astype("float32")
    values[rng.random(values.shape) < 0.02] = np.nan
    path = _store(tmp_path, values, (50, 8, 8))
    # 1600 cells x 200 values x 8 bytes = 2.5 MiB of values, over a 1 MiB budget: only passes
    # over tiles of chunk columns can do it.
    got = lsio.stats(path, var="v", over="t", max_memory="1MiB", threads=2,
                     stats=["count", "quantile:0.05,0.5,0.95"])
    data = zarr.open_array(str(path / "v"), mode="r")[...]
    np.testing.assert_array_equal(
        got.v_quantile.values, np.nanquantile(data, [0.05, 0.5, 0.95], axis=0, method="linear"))
    np.testing.assert_array_equal(got.v_count.values, np.sum(~np.isnan(data), axis=0))


def test_one_chunk_column_beyond_the_budget_is_a_clear_error(tmp_path):
    values = np.random.default_rng(2).normal(size=(4000, 8, 8)).astype("float32")
    path = _store(tmp_path, values, (500, 8, 8))
    r = subprocess.run([LSIO, "stats", str(path), "--var", "v", "--over", "t", "--quiet",
                        "--stats", "quantile:0.5", "--max-memory", "512KiB"],
                       capture_output=True, text=True)
    assert r.returncode == 1
    # 64 cells x 4000 values x 8 bytes, plus 8 bytes of count a cell.
    assert ("variable 'v': per-cell statistics over 8 y x 8 x (64 cells) need 2.0 MiB of "
            "accumulators (with the 4000 values of each cell that its quantiles need), more "
            "than the memory budget (512.0 KiB); in passes over tiles of one chunk (8 y x 8 x) "
            "a tile needs 2.0 MiB") in r.stderr, r.stderr
    with pytest.raises(ValueError, match="4000 values of each cell"):
        lsio.stats(path, var="v", over="t", stats=["quantile:0.5"], max_memory="512KiB")


def test_cli_out_reads_back_in_xarray(tmp_path):
    values = _values("float32", np.random.default_rng(5))
    path = _store(tmp_path, values, (10, 5, 5))
    out = tmp_path / "q.zarr"
    r = subprocess.run([LSIO, "stats", str(path), "--var", "v", "--over", "t", "--quiet",
                        "--stats", "mean,quantile:0.1,0.9", "--out", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    got = xr.open_zarr(out)
    ref = xr.open_zarr(path).v.load().quantile([0.1, 0.9], dim="t")
    assert got.v_quantile.dims == ("quantile", "y", "x")
    np.testing.assert_array_equal(got["quantile"].values, [0.1, 0.9])
    np.testing.assert_array_equal(got.v_quantile.values, ref.values)
    with _quiet():
        # The mean of float32 values is float32 in the store, as numpy and xarray give it.
        assert_float32_result(got.v_mean.values, np.nanmean(values.astype("f8"), axis=0),
                              rtol=1e-12, atol=1e-12 * np.nanmax(np.abs(values)),
                              equal_nan=True)


def test_json_summarises_each_quantile(tmp_path):
    import json
    values = _values("float64", np.random.default_rng(6))
    path = _store(tmp_path, values, (10, 5, 5))
    r = subprocess.run([LSIO, "stats", str(path), "--var", "v", "--over", "t", "--json",
                        "--quiet", "--stats", "quantile:0.25,0.75"], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    q = json.loads(r.stdout)["variables"]["v"]["quantiles"]
    with _quiet():
        want = np.nanquantile(values, [0.25, 0.75], axis=0, method="linear")
    assert list(q) == ["0.25", "0.75"]
    for key, w in zip(q, want):
        assert q[key]["max"] == np.nanmax(w) and q[key]["min"] == np.nanmin(w)


# --- per-group quantiles: groupby / resample with quantile:Q ---

def _grouped_store(tmp_path, dtype):
    """Daily steps over two years (months recur), a gap of 40 days (an empty resample month),
    NaNs and ties, in chunks of 10 days that straddle month ends."""
    rng = np.random.default_rng(11)
    times = pd.date_range("2001-01-03", periods=760, freq="D").delete(range(300, 340))
    shape = (len(times), 5, 4)
    if dtype == "int16":
        values = rng.integers(-3000, 3000, shape).astype("int16")
    else:
        values = rng.normal(0, 5, shape)
        values[rng.random(shape) < 0.1] = np.nan
        values[:, 1, 2] = np.nan  # a cell with no value in any group
        values[40:60, 0, :] = 1.25  # ties
        values = values.astype(dtype)
    ds = xr.Dataset({"v": (("time", "y", "x"), values)}, coords={"time": times})
    path = tmp_path / f"grouped_{dtype}.zarr"
    ds.to_zarr(path, zarr_format=3, consolidated=False,
               encoding={"v": {"chunks": (10, 3, 3)}})
    return path, ds


@pytest.mark.parametrize("dtype", ["float32", "int16"])
@pytest.mark.parametrize("how,arg", [("groupby", "time.month"), ("groupby", "time.season"),
                                     ("resample", "MS"), ("resample", "7D")])
# None: one grid; 200KiB: passes over chunk columns (every group's slots of one chunk column
# fit the accumulators' share, 100 KiB, the whole grid's do not); 64KiB: passes over runs of
# groups of one chunk column (share 16 KiB), reading the chunks that straddle two runs twice.
@pytest.mark.parametrize("budget", [None, "200KiB", "64KiB"])
def test_per_group_quantiles_equal_numpy_per_group(tmp_path, dtype, how, arg, budget):
    path, ds = _grouped_store(tmp_path, dtype)
    kw = {"groupby": arg} if how == "groupby" else {"resample": {"time": arg}}
    got = lsio.stats(path, var="v", stats=["count", "quantile:" + ",".join(map(str, QS))],
                     threads=2, max_memory=budget, **kw)
    grouped = ds.v.groupby(arg) if how == "groupby" else ds.v.resample(time=arg)
    ref = grouped.quantile(QS)
    dim = arg.split(".")[1] if how == "groupby" else "time"
    # xarray's layout: the group dimension first, "quantile" last.
    assert got.v_quantile.dims == (dim, "y", "x", "quantile")
    assert got.v_quantile.dims == ref.dims
    np.testing.assert_array_equal(got[dim].values, ref[dim].values)
    np.testing.assert_array_equal(got["quantile"].values, QS)
    # Exactly numpy's nanquantile of each group's values (xarray's own can differ in the
    # last bit when it reduces through dask).
    values = ds.v.values
    if how == "groupby":
        keys = getattr(ds.time.dt, arg.split(".")[1]).values
        members = {label: np.nonzero(keys == label)[0] for label in np.unique(keys)}
    else:
        series = pd.Series(np.arange(len(ds.time)), index=pd.DatetimeIndex(ds.time.values))
        members = {label.to_datetime64(): part.values for label, part in series.resample(arg)}
    assert len(members) == got.sizes[dim]
    for i, label in enumerate(got[dim].values):
        index = members[label]
        with _quiet():
            if len(index) == 0:
                want = np.full((len(QS),) + values.shape[1:], np.nan)
            else:
                want = np.nanquantile(values[index], QS, axis=0, method="linear")
        np.testing.assert_array_equal(got.v_quantile.values[i], np.moveaxis(want, 0, -1),
                                      err_msg=f"{dim}={label}")
    np.testing.assert_allclose(got.v_quantile.values, ref.values, rtol=1e-12, atol=1e-9,
                               equal_nan=True)
    whole = lsio.stats(path, var="v", stats=["count"], **kw)
    if budget == "64KiB":
        assert got.attrs["chunks"] > whole.attrs["chunks"]
    else:
        assert got.attrs["chunks"] == whole.attrs["chunks"]


def test_per_group_quantiles_beyond_one_group_name_the_tile(tmp_path):
    path, ds = _grouped_store(tmp_path, "float32")
    r = subprocess.run([LSIO, "stats", str(path), "--var", "v", "--quiet", "--groupby",
                        "time.month", "--stats", "quantile:0.5", "--max-memory", "52KiB"],
                       capture_output=True, text=True)
    assert r.returncode == 1
    # A cell holds a slot for every time of the longest month group and a count (8 bytes
    # each); the smallest tile is one month over one 3 x 3 chunk column; the share of a 52 KiB
    # budget is 4 KiB.
    slots = int(np.bincount(ds.time.dt.month.values).max())
    tile = (slots + 1) * 8 * 9 / 1024
    assert tile > 4
    assert f"with the {slots} values of each cell that its quantiles need" in r.stderr, r.stderr
    assert (f"in passes over tiles of one chunk (1 month x 3 y x 3 x) a tile needs {tile:.1f} "
            "KiB") in r.stderr, r.stderr
