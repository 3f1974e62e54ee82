"""GRIB2 through xarray (issue 15, item 5): ``xr.open_dataset(f, engine="lsio",
filter_by_keys=...)`` equals ``xr.open_dataset(f, engine="cfgrib", backend_kwargs={
"filter_by_keys": ..., "indexpath": ""})`` on every hypercube of every shared fixture: names,
dims, coordinates and values bit for bit (float32 of ecCodes' doubles)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

# The references (ecCodes, cfgrib) are development tools, not in the oldest-versions environment.
pytest.importorskip("eccodes")
pytest.importorskip("cfgrib")

import grib_data as gd

FIXTURES = sorted(p for p in gd.SHARED.glob("*.grib2"))
CASES = [(p, fbk) for p in FIXTURES
         for fbk in (c["filter_by_keys"] for c in json.loads(
             p.with_suffix(".ref.json").read_text())["cfgrib"])]


def _cfgrib(path: Path, fbk: dict) -> xr.Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xr.open_dataset(path, engine="cfgrib",
                               backend_kwargs={"filter_by_keys": fbk, "indexpath": ""})


@pytest.mark.parametrize("path,fbk", CASES,
                         ids=[f"{p.name}-{'-'.join(map(str, f.values()))}" for p, f in CASES])
def test_open_dataset_with_filter_by_keys_equals_cfgrib(path, fbk):
    ours = xr.open_dataset(path, engine="lsio", filter_by_keys=fbk)
    ref = _cfgrib(path, fbk)
    assert set(ours.data_vars) == set(ref.data_vars)
    assert set(ours.coords) == set(ref.coords)
    for name in list(ref.data_vars) + list(ref.coords):
        assert ours[name].dims == ref[name].dims, name
        a, b = ours[name].values, ref[name].values
        assert a.dtype == b.dtype, (name, a.dtype, b.dtype)
        if a.dtype.kind == "f":
            assert np.array_equal(a, b, equal_nan=True), name
        else:
            assert np.array_equal(a, b), name
    for name in ref.data_vars:
        for k in ("GRIB_paramId", "GRIB_shortName", "GRIB_typeOfLevel", "GRIB_stepType",
                  "units"):
            if k in ref[name].attrs:
                assert ours[name].attrs[k] == ref[name].attrs[k], (name, k)


def test_one_hypercube_opens_without_a_filter_and_several_need_one():
    single = gd.SHARED / "hrrr_sfc_t.grib2"
    ours = xr.open_dataset(single, engine="lsio")
    ref = _cfgrib(single, {})
    assert list(ours.data_vars) == list(ref.data_vars) == ["t"]
    assert np.array_equal(ours.t.values, ref.t.values, equal_nan=True)
    # xarray picks the engine from the file name.
    assert list(xr.open_dataset(single, engine="lsio").data_vars) == ["t"]
    several = gd.SHARED / "syn_hypercube.grib2"
    with pytest.raises(ValueError, match="several hypercubes.*filter_by_keys"):
        xr.open_dataset(several, engine="lsio")
    with pytest.raises(ValueError, match="no hypercube matches"):
        xr.open_dataset(several, engine="lsio", filter_by_keys={"typeOfLevel": "nowhere"})
    with pytest.raises(ValueError, match="not on level"):
        xr.open_dataset(several, engine="lsio", filter_by_keys={"level": 500})


def test_short_name_keeps_one_variable_and_its_coordinates():
    path = gd.SHARED / "syn_hypercube.grib2"
    fbk = {"typeOfLevel": "isobaricInhPa", "stepType": "instant", "shortName": "t"}
    ours = xr.open_dataset(path, engine="lsio", filter_by_keys=fbk)
    ref = _cfgrib(path, fbk)
    assert list(ours.data_vars) == list(ref.data_vars) == ["t"]
    assert set(ours.coords) == set(ref.coords)
    assert np.array_equal(ours.t.values, ref.t.values, equal_nan=True)


def test_chunks_give_dask_and_the_same_values():
    path = gd.SHARED / "syn_hypercube.grib2"
    fbk = {"typeOfLevel": "isobaricInhPa", "stepType": "instant"}
    lazy = xr.open_dataset(path, engine="lsio", filter_by_keys=fbk, chunks={})
    assert lazy.t.chunks is not None
    ref = _cfgrib(path, fbk)
    assert np.array_equal(lazy.t.values, ref.t.values, equal_nan=True)
    assert float(lazy.t.mean()) == pytest.approx(float(ref.t.mean()), rel=1e-6)
