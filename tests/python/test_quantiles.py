"""Exact quantiles (issue 17): lsio stats quantile:Q against numpy.nanquantile(method="linear")
on the values as xr.open_zarr returns them (random data, ties, NaNs, integers, all-equal
values, CF packing with a negative scale), through the CLI's JSON and lsio.stats."""

import json
import subprocess

import numpy as np
import pytest
import xarray as xr

import lsio

from conftest import cli_path

LSIO = str(cli_path())
QS = [0.0, 0.01, 0.25, 0.5, 0.75, 0.99, 1.0]


def _store(tmp_path, values, chunks, encoding=None, name="v"):
    ds = xr.Dataset({name: (("t", "x"), values)})
    path = tmp_path / f"{name}.zarr"
    enc = {name: {"chunks": chunks, **(encoding or {})}}
    ds.to_zarr(path, zarr_format=3, encoding=enc, consolidated=False)
    return path


def _cli_quantiles(path, var="v"):
    qtext = ",".join(str(q) for q in QS)
    r = subprocess.run([LSIO, "stats", str(path), "--var", var, "--json", "--quiet",
                        "--stats", f"count,quantile:{qtext}"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    return doc["variables"][var]["quantiles"]


CASES = {
    "float32_normal_nan": lambda rng: np.where(rng.random((300, 77)) < 0.03, np.nan,
                                               rng.normal(0, 5, (300, 77))).astype("float32"),
    "float64_ties": lambda rng: rng.integers(0, 7, (300, 77)).astype("float64"),
    "int16": lambda rng: rng.integers(-30000, 30000, (300, 77)).astype("int16"),
    "uint8_ties": lambda rng: rng.integers(0, 5, (300, 77)).astype("uint8"),
    "all_equal": lambda rng: np.full((300, 77), 2.5, dtype="float32"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_equal_to_numpy(tmp_path, case):
    values = CASES[case](np.random.default_rng(len(case)))
    path = _store(tmp_path, values, (64, 30))
    ref_values = xr.open_zarr(path).v.values
    want = np.nanquantile(ref_values, QS, method="linear")
    got = _cli_quantiles(path)
    assert list(got) == [str(q) for q in QS]
    for q, w in zip(QS, want):
        assert got[str(q)] == float(w), (case, q, got[str(q)], w)
    ds = lsio.stats(path, var="v", stats=[f"quantile:{','.join(map(str, QS))}"])
    np.testing.assert_array_equal(ds.v_quantile.values, want)
    np.testing.assert_array_equal(ds["quantile"].values, QS)


def test_packed_negative_scale(tmp_path):
    rng = np.random.default_rng(9)
    values = rng.normal(10, 3, (200, 50))
    values[rng.random(values.shape) < 0.05] = np.nan
    path = _store(tmp_path, values, (50, 25),
                  {"dtype": "int16", "scale_factor": -0.01, "add_offset": 5.0,
                   "_FillValue": -32768})
    decoded = xr.open_zarr(path).v.values
    want = np.nanquantile(decoded, QS, method="linear")
    got = _cli_quantiles(path)
    for q, w in zip(QS, want):
        assert got[str(q)] == float(w), (q, got[str(q)], w)


def test_bad_quantiles(tmp_path):
    path = _store(tmp_path, np.zeros((4, 4)), (2, 2))
    for stats, msg in [("quantile:1.5", "outside [0, 1]"), ("quantile:x", "expected quantile")]:
        r = subprocess.run([LSIO, "stats", str(path), "--stats", stats, "--quiet"],
                           capture_output=True, text=True)
        assert r.returncode == 1 and msg in r.stderr, r.stderr
