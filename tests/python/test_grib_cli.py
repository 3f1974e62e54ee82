"""`lsio info` and `lsio stats` on GRIB2 (issue 15) against cfgrib 0.9.15.1 / ecCodes 2.50 and
xarray on the shared fixtures and on files written here with ecCodes: every variable's
statistics, selections by label and position (time, step, levels), --over, --out,
--groupby/--resample, quantiles, several files / a directory / a glob as one dataset, and
faults (truncated message, bad section length, wrong 7777, short bitmap) reported with the
file, message number and byte offset."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

# The references (ecCodes, cfgrib) are development tools, not in the oldest-versions environment.
pytest.importorskip("eccodes")
pytest.importorskip("cfgrib")

import grib_data as gd
from conftest import assert_float32_result
import stats_data as sd

FIXTURES = sorted(p for p in gd.SHARED.glob("*.grib2"))


def _ref(path: Path) -> dict:
    return json.loads(path.with_suffix(".ref.json").read_text())


def _group(fbk: dict) -> str:
    g = f"{fbk['typeOfLevel']}/{fbk['stepType']}"
    return g + "/" + fbk["shortName"] if "shortName" in fbk else g


def _stats64(values) -> dict:
    return sd.reference(np.asarray(values, dtype=np.float64))


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("grib_archive")
    paths = gd.write_archive(d / "archive")
    cat = gd.concatenate(paths, d / "all.grib2")
    return {"dir": d / "archive", "paths": paths, "cat": cat,
            "vars": gd.cfgrib_variables(cat)}


@pytest.mark.parametrize("path", FIXTURES, ids=[p.name for p in FIXTURES])
def test_stats_of_every_fixture_variable_match_cfgrib(cli, path):
    # MRMS fields decode to 94 MiB each: more than the default budget plans for.
    got = cli.json("stats", path, "--quiet", "--max-memory", "1GiB")
    want = {}
    for e in _ref(path)["cfgrib"]:
        for name, v in e["data_vars"].items():
            want[f"{_group(e['filter_by_keys'])}/{name}"] = v["stats"]
    assert set(got["variables"]) == set(want)
    for name, w in want.items():
        g = got["variables"][name]
        assert g["count"] == w["count"], name
        assert g["nan_count"] == w["nan_count"], name
        if w["count"]:
            assert g["min"] == w["min"], name
            assert g["max"] == w["max"], name
            np.testing.assert_allclose(g["sum"], w["sum"], rtol=1e-12, atol=1e-300)
            np.testing.assert_allclose(g["mean"], w["mean"], rtol=1e-12)
            np.testing.assert_allclose(g["std"], w["std"], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("path", FIXTURES, ids=[p.name for p in FIXTURES])
def test_variable_attributes_match_cfgrib(cli, path):
    """Every attribute cfgrib gives a variable, equal (but gridDefinitionDescription, a table
    text lsio does not carry), and cfgrib's coordinates list."""
    doc = cli.json("info", path)
    mine = {v["path"]: v["attributes"] for g in doc["groups"] for v in g["variables"]}
    for k, da in gd.cfgrib_variables(path).items():
        got = mine[k]
        want = {a: v for a, v in da.attrs.items() if a != "GRIB_gridDefinitionDescription"}
        assert set(got) - {"coordinates"} == set(want), k
        for a, v in want.items():
            if isinstance(v, (list, np.ndarray)):
                assert list(np.asarray(v)) == got[a], (k, a)
            elif isinstance(v, float):
                np.testing.assert_allclose(got[a], v, rtol=1e-12, atol=1e-12, err_msg=f"{k} {a}")
            else:
                assert got[a] == v, (k, a, got[a], v)
        assert set(got["coordinates"].split()) == set(da.coords), k


def test_info_lists_cfgrib_variables_and_coordinates(cli):
    path = gd.SHARED / "syn_hypercube.grib2"
    doc = cli.json("info", path)
    assert doc["format"] == "GRIB2"
    assert doc["summary"]["messages"] == 137
    groups = {g["path"]: g for g in doc["groups"] if g["variables"]}
    ds = {}
    for d in gd.cfgrib_datasets(path):
        for n in d.data_vars:
            ds[(d[n].attrs["GRIB_typeOfLevel"], d[n].attrs["GRIB_stepType"], n)] = d
    for (tol, st, name), d in ds.items():
        g = groups[f"{tol}/{st}"]
        var = {v["name"]: v for v in g["variables"]}[name]
        assert tuple(var["dims"]) == d[name].dims
        assert tuple(var["shape"]) == d[name].shape
        assert var["dtype"] == "float32"
        # cfgrib's attributes where lsio gives them.
        for k, v in var["attributes"].items():
            if k in d[name].attrs and k != "coordinates":
                assert d[name].attrs[k] == v or (isinstance(v, float) and
                                                  np.isclose(d[name].attrs[k], v)), (name, k)
        for k in ("GRIB_paramId", "GRIB_shortName", "GRIB_name", "GRIB_units", "GRIB_cfVarName",
                  "GRIB_typeOfLevel", "GRIB_stepType", "GRIB_gridType", "GRIB_dataType",
                  "GRIB_numberOfPoints", "long_name", "units", "standard_name", "GRIB_Nx",
                  "GRIB_Ny", "GRIB_iDirectionIncrementInDegrees",
                  "GRIB_latitudeOfFirstGridPointInDegrees"):
            assert k in var["attributes"], (name, k)
        coords = {c["name"]: c for c in g["coordinates"]}
        assert set(coords) == set(d[[name]].coords)
        for c, cv in coords.items():
            ref = d[c]
            assert tuple(cv["dims"]) == ref.dims, c
            vals = ref.values.ravel()
            listed = cv.get("values", [cv.get("first"), cv.get("last")])
            if ref.dtype.kind == "M":
                want = [str(np.datetime_as_string(x, unit="s")) for x in vals]
                got = [x if "T" in x else x + "T00:00:00" for x in listed]
                assert got[0][:19] == want[0] and got[-1][:19] == want[-1], c
            elif ref.dtype.kind == "m":
                import pandas as pd
                assert [str(pd.Timedelta(x)) for x in (vals[0], vals[-1])] == \
                    [listed[0], listed[-1]], c
            else:
                np.testing.assert_allclose([listed[0], listed[-1]], [vals[0], vals[-1]],
                                           rtol=0, atol=1e-9)
    text = cli.run("info", path).stdout
    assert "isobaricInhPa/instant" in text and "valid_time" in text and "float32" in text


def test_selections_by_label_and_position_match_xarray(cli):
    path = gd.SHARED / "syn_hypercube.grib2"
    t = gd.cfgrib_variables(path)["isobaricInhPa/instant/t"]
    cases = [
        (["--sel", "step=6h"], t.sel(step="6h")),
        (["--sel", "step=0h:6h"], t.sel(step=slice("0h", "6h"))),
        (["--sel", "step=12:00:00"], t.sel(step="12:00:00")),
        (["--sel", "time=2024-01-01T12"], t.sel(time="2024-01-01T12")),
        (["--sel", "isobaricInhPa=500"], t.sel(isobaricInhPa=500)),
        (["--sel", "isobaricInhPa=850:500", "--isel", "number=1"],
         t.sel(isobaricInhPa=slice(850, 500)).isel(number=1)),
        (["--sel", "latitude=40:10", "--sel", "longitude=-9:9"],
         t.sel(latitude=slice(40, 10), longitude=slice(-9, 9))),
        (["--isel", "step=-1", "--isel", "time=0"], t.isel(step=-1, time=0)),
    ]
    for args, ref in cases:
        got = cli.json("stats", path, "--quiet", "--var", "isobaricInhPa/instant/t", *args)
        sd.check_stats(got["variables"]["isobaricInhPa/instant/t"], _stats64(ref.values))
    bad = cli.run("stats", path, "--quiet", "--var", "isobaricInhPa/instant/t", "--sel",
                  "step=7h", check=False)
    assert bad.returncode == 1 and "step" in bad.stderr and "not in the coordinate" in bad.stderr


def test_over_out_and_coordinates_match_xarray(cli, tmp_path):
    path = gd.SHARED / "syn_hypercube.grib2"
    t = gd.cfgrib_variables(path)["isobaricInhPa/instant/t"]
    out = tmp_path / "t_map.zarr"
    cli.run("stats", path, "--quiet", "--var", "isobaricInhPa/instant/t", "--over", "number",
            "--over", "latitude", "--over", "longitude", "--out", out,
            "--stats", "count,nan_count,min,max,mean,std")
    res = xr.open_zarr(out)
    name = "isobaricInhPa_instant_t"
    assert res[f"{name}_mean"].dims == ("time", "step", "isobaricInhPa")
    np.testing.assert_array_equal(res["time"].values, t["time"].values)
    np.testing.assert_array_equal(res["step"].values, t["step"].values)
    np.testing.assert_array_equal(res["isobaricInhPa"].values, t["isobaricInhPa"].values)
    ref = t.values.astype(np.float64)
    axes = (0, 4, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_array_equal(res[f"{name}_count"].values,
                                      np.sum(~np.isnan(ref), axis=axes))
        np.testing.assert_array_equal(res[f"{name}_nan_count"].values,
                                      np.sum(np.isnan(ref), axis=axes))
        np.testing.assert_array_equal(res[f"{name}_min"].values, np.nanmin(ref, axis=axes))
        # GRIB values decode to float32 (as cfgrib gives them): float32 results.
        assert_float32_result(res[f"{name}_mean"].values, np.nanmean(ref, axis=axes),
                              rtol=1e-12)
        assert_float32_result(res[f"{name}_std"].values, np.nanstd(ref, axis=axes), rtol=1e-9)


def test_archive_as_one_dataset(cli, archive, tmp_path):
    """A directory, a glob and a list of files: cfgrib's view of all their fields, concatenated
    along time as xr.open_mfdataset(files, engine="cfgrib", combine="by_coords") does."""
    want = {k: _stats64(v.values) for k, v in archive["vars"].items()}
    d = archive["dir"]
    for args in ([d], [f"{d}/*.grib2"], [str(p) for p in reversed(archive["paths"])]):
        got = cli.json("stats", *args, "--quiet")
        assert set(got["variables"]) == set(want), args
        for k, w in want.items():
            sd.check_stats(got["variables"][k], w)
    # open_mfdataset, hypercube by hypercube.
    for k, v in archive["vars"].items():
        tol, st = k.split("/")[:2]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mf = xr.open_mfdataset([str(p) for p in archive["paths"]], engine="cfgrib",
                                   combine="by_coords",
                                   backend_kwargs={"filter_by_keys": {"typeOfLevel": tol,
                                                                      "stepType": st},
                                                   "indexpath": ""})
        name = k.split("/")[-1]
        assert mf[name].dims == v.dims
        np.testing.assert_array_equal(mf[name].values, v.values)
        np.testing.assert_array_equal(mf["time"].values, v["time"].values)
        mf.close()
    doc = cli.json("info", d)
    assert doc["summary"]["files"] == 3 and doc["summary"]["messages"] == 3 * 4 * 5


def test_archive_time_selections_groupby_resample_quantiles(cli, archive, tmp_path):
    t2m = archive["vars"]["heightAboveGround/instant/t2m"]
    var = "heightAboveGround/instant/t2m"
    d = archive["dir"]
    got = cli.json("stats", d, "--quiet", "--var", var, "--sel", "time=2024-01-31")
    sd.check_stats(got["variables"][var], _stats64(t2m.sel(time="2024-01-31").values))
    got = cli.json("stats", d, "--quiet", "--var", var,
                   "--sel", "time=2024-01-30T12:2024-02-01T06")
    sd.check_stats(got["variables"][var],
                   _stats64(t2m.sel(time=slice("2024-01-30T12", "2024-02-01T06")).values))
    qs = [0.1, 0.5, 0.99]
    got = cli.json("stats", d, "--quiet", "--var", var, "--stats",
                   "count,quantile:" + ",".join(map(str, qs)))
    want = np.nanquantile(t2m.values.astype(np.float32), qs, method="linear")
    got_q = got["variables"][var]["quantiles"]
    np.testing.assert_array_equal([got_q[str(q)] for q in qs], want.astype(np.float64))
    for how, arg, ref in (
            ("--groupby", "time.month", t2m.groupby("time.month")),
            ("--resample", "time=1D", t2m.resample(time="1D"))):
        out = tmp_path / f"{how[2:]}.zarr"
        cli.run("stats", d, "--quiet", "--var", var, how, arg, "--out", out,
                "--stats", "mean,max")
        res = xr.open_zarr(out)
        name = var.replace("/", "_")
        np.testing.assert_allclose(res[f"{name}_mean"].values,
                                   ref.mean().values.astype(np.float64), rtol=1e-6)
        np.testing.assert_array_equal(res[f"{name}_max"].values, ref.max().values)


def _fault(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_faults_name_file_message_and_offset(cli, tmp_path):
    src = gd.SHARED / "syn_simple.grib2"
    data = src.read_bytes()
    msgs = _ref(src)["messages"]
    last = msgs[-1]
    off, length, n = last["offset"], last["length"], len(msgs) - 1
    where = f"message {n} (byte {off})"
    cases = {
        "truncated.grib2": (data[: off + length // 2], "truncated"),
        "end_marker.grib2": (data[: off + length - 1] + b"8", "7777"),
        "section_length.grib2": (data[: off + 16] + b"\x7f" + data[off + 17:],
                                 f"section 1 at byte {off + 16}"),
    }
    for name, (b, what) in cases.items():
        p = _fault(tmp_path, name, b)
        for cmd in (["info", p], ["stats", p, "--quiet"]):
            r = cli.run(*cmd, check=False)
            assert r.returncode == 1, (name, r.stdout)
            assert str(p) in r.stderr and where in r.stderr and what in r.stderr, r.stderr
            assert "Traceback" not in r.stderr and "terminate" not in r.stderr
    # A bitmap shorter than the grid: found when the field is decoded.
    import eccodes as ec
    for i, m in enumerate(msgs):
        if m["bitmapPresent"] != 1:
            continue
        msg = bytearray(data[m["offset"]: m["offset"] + m["length"]])
        h = ec.codes_new_from_message(bytes(msg))
        try:
            s6 = ec.codes_get_long(h, "offsetBSection6")
        finally:
            ec.codes_release(h)
        s6_len = int.from_bytes(msg[s6:s6 + 4], "big")
        cut = (s6_len - 6) // 2
        short = msg[:s6 + s6_len - cut] + msg[s6 + s6_len:]
        short[s6:s6 + 4] = (s6_len - cut).to_bytes(4, "big")
        short[8:16] = len(short).to_bytes(8, "big")
        p = _fault(tmp_path, "short_bitmap.grib2", data[:m["offset"]] + bytes(short) +
                   data[m["offset"] + m["length"]:])
        r = cli.run("stats", p, "--quiet", check=False)
        assert r.returncode == 1
        assert f"{p}: message {i} (byte {m['offset']})" in r.stderr, r.stderr
        assert "bitmap" in r.stderr, r.stderr
        assert "variable '" in r.stderr, r.stderr
        break
    else:
        pytest.fail("no bitmap in syn_simple.grib2")
    # Not GRIB, no such file, a glob matching nothing.
    r = cli.run("stats", _fault(tmp_path, "junk.bin", b"x" * 64), check=False)
    assert r.returncode == 1 and "does not start with \"GRIB\"" in r.stderr
    r = cli.run("info", tmp_path / "nothing_here", check=False)
    assert r.returncode == 1 and "no GRIB files" in r.stderr
    r = cli.run("info", f"{tmp_path}/*.grb2", check=False)
    assert r.returncode == 1 and "no file matches" in r.stderr


def test_grib1_is_refused_clearly(cli):
    p = gd.SHARED / "era5_levels_members_grib1.grib"
    r = cli.run("info", p, check=False)
    assert r.returncode == 1
    assert "GRIB edition 1" in r.stderr and "message 0 (byte 0)" in r.stderr


def test_python_stats_on_grib_matches_xarray(archive):
    """lsio.stats on a GRIB directory, a glob and a list of files, with label selections and
    --over: the same numbers as xarray on cfgrib's datasets."""
    import lsio
    t = archive["vars"]["isobaricInhPa/instant/t"]
    var = "isobaricInhPa/instant/t"
    for path in (archive["dir"], f"{archive['dir']}/*.grib2", list(archive["paths"])):
        ds = lsio.stats(path, var=var, sel={"isobaricInhPa": 500,
                                            "time": slice("2024-01-31", "2024-02-01T06")},
                        stats=["count", "nan_count", "mean", "max"])
        ref = t.sel(isobaricInhPa=500, time=slice("2024-01-31", "2024-02-01T06")).values
        name = var.replace("/", "_")
        assert int(ds[f"{name}_count"]) == int(np.sum(~np.isnan(ref)))
        assert int(ds[f"{name}_nan_count"]) == int(np.sum(np.isnan(ref)))
        np.testing.assert_allclose(float(ds[f"{name}_mean"]), np.nanmean(ref.astype(np.float64)),
                                   rtol=1e-12)
        assert float(ds[f"{name}_max"]) == float(np.nanmax(ref))
    # Per time step, with the time coordinate decoded.
    ds = lsio.stats(archive["dir"], var=var, over=["latitude", "longitude"], stats="mean")
    mean = ds["isobaricInhPa_instant_t_mean"]
    assert mean.dims == ("time", "isobaricInhPa")
    np.testing.assert_array_equal(ds["time"].values, t["time"].values)
    np.testing.assert_array_equal(ds["isobaricInhPa"].values, t["isobaricInhPa"].values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_float32_result(mean.values, np.nanmean(t.values.astype(np.float64), axis=(2, 3)),
                              rtol=1e-12)
    # A step coordinate (timedelta64) survives into the result.
    path = gd.SHARED / "syn_hypercube.grib2"
    ref = gd.cfgrib_variables(path)["isobaricInhPa/instant/t"]
    ds = lsio.stats(path, var="isobaricInhPa/instant/t", over=["number", "latitude", "longitude"],
                    sel={"step": slice("6h", "12h")}, stats="max")
    got = ds["isobaricInhPa_instant_t_max"]
    np.testing.assert_array_equal(ds["step"].values, ref.sel(step=slice("6h", "12h"))["step"].values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_array_equal(
            got.values, np.nanmax(ref.sel(step=slice("6h", "12h")).values, axis=(0, 4, 5)))
    # Durations from numpy, the standard library and pandas select like strings.
    import datetime
    import pandas as pd
    for label in (np.timedelta64(6, "h"), datetime.timedelta(hours=6), pd.Timedelta("6h")):
        one = lsio.stats(path, var="isobaricInhPa/instant/t", sel={"step": label}, stats="max")
        assert float(one["isobaricInhPa_instant_t_max"]) == float(ref.sel(step="6h").max())
    with pytest.raises(FileNotFoundError):
        lsio.stats(archive["dir"] / "nope.grib2")
