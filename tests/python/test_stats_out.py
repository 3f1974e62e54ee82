"""`lsio stats --out`: the Zarr group it writes (v3 + zstd:3 by default, --out-format 2|3,
--out-codec) read back by xarray, zarr-python and TensorStore equal to the statistics
(numpy references and the JSON lsio prints), published atomically (a SIGKILL while writing
leaves nothing at the output path)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import warnings

import numpy as np
import pytest
import tensorstore as ts
import xarray as xr
import zarr

import stats_data as sd
from conftest import assert_float32_result

warnings.filterwarnings("ignore", category=UserWarning)
warnings.filterwarnings("ignore", category=RuntimeWarning)

STATS = "count,nan_count,min,max,mean,std,sum"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    p = tmp_path_factory.mktemp("stats_out") / "in.zarr"
    sd.write_xarray_v3_sharded(p)
    return p


def read_ts(path, name, fmt):
    spec = {"driver": "zarr3" if fmt == 3 else "zarr",
            "kvstore": {"driver": "file", "path": str(path / name) + "/"}}
    return ts.open(spec, open=True, read=True).result().read().result()


def references(path, var, axis=0):
    ref = sd.xarray_reference(path, var)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return {
            "count": np.sum(~np.isnan(ref), axis=axis),
            "nan_count": np.sum(np.isnan(ref), axis=axis),
            "min": np.nanmin(ref, axis=axis),
            "max": np.nanmax(ref, axis=axis),
            "mean": np.nanmean(ref, axis=axis),
            "std": np.nanstd(ref, axis=axis),
            "sum": np.nansum(ref, axis=axis),
        }


def check_against_references(values: dict, refs: dict, what: str):
    for stat, want in refs.items():
        got = values[stat]
        if stat in ("count", "nan_count", "min", "max"):
            np.testing.assert_array_equal(got, want, err_msg=f"{what} {stat}")
        else:
            # The statistics of float32 values are float32 (numpy's and xarray's type).
            assert_float32_result(got, want, rtol=1e-9, err_msg=f"{what} {stat}")


@pytest.mark.parametrize("fmt,compression", [(None, None), (2, None), (3, "none"),
                                             (2, "gzip:6"), (3, "blosc:lz4:5:bitshuffle"),
                                             (3, "zstd:1,crc32c")])
def test_out_opens_everywhere_equal_to_the_statistics(cli, store, tmp_path, fmt, compression):
    out = tmp_path / "res.zarr"
    args = ["stats", store, "--quiet", "--var", "t2m", "--over", "time", "--out", out,
            "--stats", STATS, "--json"]
    if fmt:
        args += ["--out-format", str(fmt)]
    if compression:
        args += ["--out-codec", compression]
    printed = json.loads(cli.run(*args).stdout)["variables"]["t2m"]
    fmt = fmt or 3
    meta = out / "t2m_mean" / ("zarr.json" if fmt == 3 else ".zarray")
    doc = json.loads(meta.read_text())
    if fmt == 3:
        assert doc["zarr_format"] == 3
        if compression is None:  # the default: zstd level 3
            assert doc["codecs"][1:] == [{"name": "zstd",
                                          "configuration": {"level": 3, "checksum": False}}]
        assert doc["dimension_names"] == ["lat", "lon"]
    else:
        assert doc["zarr_format"] == 2
        if compression is None:
            assert doc["compressor"] == {"id": "zstd", "level": 3}
    refs = references(store, "t2m")
    src = xr.open_zarr(store)

    # xarray: dims, coordinates as stored, values.
    res = xr.open_zarr(out)
    assert res.attrs["history"] == "lsio stats"
    for stat in refs:
        assert res[f"t2m_{stat}"].dims == ("lat", "lon"), stat
    assert set(res.coords) == {"lat", "lon"}
    xr.testing.assert_identical(res["lat"].reset_coords(drop=True),
                                src["lat"].reset_coords(drop=True))
    np.testing.assert_array_equal(res["lon"].values, src["lon"].values)
    assert res["t2m_mean"].attrs["units"] == "K"
    assert "units" not in res["t2m_count"].attrs
    assert res["t2m_count"].dtype == np.int64
    check_against_references({s: res[f"t2m_{s}"].values for s in refs}, refs, "xarray")

    # zarr-python (through the consolidated metadata) and TensorStore: the same values.
    g = zarr.open_group(str(out), mode="r", use_consolidated=True) if fmt == 3 else \
        zarr.open_consolidated(str(out), mode="r", zarr_format=2)
    for stat in refs:
        name = f"t2m_{stat}"
        np.testing.assert_array_equal(g[name][...], res[name].values, err_msg=name)
        if fmt == 2 and compression and "," in compression:
            continue  # TensorStore's v2 driver takes no filters
        np.testing.assert_array_equal(read_ts(out, name, fmt), res[name].values, err_msg=name)

    # The summary lsio printed describes what it wrote.
    for stat in ("min", "max", "mean"):
        values = res[f"t2m_{stat}"].values
        summary = printed[stat]
        assert summary["cells"] == values.size
        assert summary["cells_with_value"] == int(np.sum(~np.isnan(values)))
        assert summary["min"] == pytest.approx(float(np.nanmin(values)), rel=1e-12)
        assert summary["max"] == pytest.approx(float(np.nanmax(values)), rel=1e-12)


@pytest.mark.xfail(strict=True, reason="ops/stats.cc: --over every dimension keeps a grid of "
                   "one cell but reports (and writes) the empty whole-selection statistics")
@pytest.mark.parametrize("fmt", [2, 3])
def test_out_reduced_over_everything_equals_printed(cli, store, tmp_path, fmt):
    """Reducing over every dimension gives 0-d arrays, equal to the numbers printed."""
    out = tmp_path / "scalars.zarr"
    printed = json.loads(cli.run("stats", store, "--quiet", "--over", "time", "--over", "lat",
                                 "--over", "lon", "--stats", STATS, "--out", out,
                                 "--out-format", str(fmt), "--json").stdout)["variables"]
    res = xr.open_zarr(out)
    for var in ("t2m", "pres"):
        sd.check_stats(printed[var], sd.reference(sd.xarray_reference(store, var)))
        for stat in STATS.split(","):
            got = res[f"{var}_{stat}"]
            assert got.dims == ()
            assert float(got.values) == pytest.approx(printed[var][stat], rel=1e-15), (var, stat)
            np.testing.assert_array_equal(read_ts(out, f"{var}_{stat}", fmt), got.values)


def test_out_time_coordinate_v3(cli, store, tmp_path):
    out = tmp_path / "series.zarr"
    cli.run("stats", store, "--quiet", "--var", "pres", "--over", "lat", "--over", "lon",
            "--out", out, "--sel", "time=2000-01-03:2000-01-20")
    res = xr.open_zarr(out)
    src = xr.open_zarr(store).sel(time=slice("2000-01-03", "2000-01-20"))
    assert res["pres_mean"].dims == ("time",)
    np.testing.assert_array_equal(res["time"].values, src["time"].values)
    ref = src["pres"].values.astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(res["pres_mean"].values, np.nanmean(ref, axis=(1, 2)),
                                   rtol=1e-12)


def test_out_existing_path_is_refused_untouched(cli, store, tmp_path):
    out = tmp_path / "exists.zarr"
    out.mkdir()
    (out / "keep").write_text("x")
    proc = cli.run("stats", store, "--quiet", "--var", "t2m", "--over", "time", "--out", out,
                   check=False)
    assert proc.returncode != 0
    assert "exists" in proc.stderr
    assert sorted(os.listdir(out)) == ["keep"]


@pytest.mark.parametrize("args,message", [(["--out-format", "4"], "--out-format"),
                                          (["--out-codec", "zstd:99"], "--out-codec"),
                                          (["--out-codec", "brotli"], "--out-codec")])
def test_bad_output_flags_fail_before_computing(cli, store, tmp_path, args, message):
    out = tmp_path / "never.zarr"
    proc = cli.run("stats", store, "--quiet", "--var", "t2m", "--over", "time", "--out", out,
                   *args, check=False)
    assert proc.returncode != 0
    assert message in proc.stderr
    assert not out.exists()


@pytest.fixture(scope="module")
def big_store(tmp_path_factory):
    """Large enough per-cell output (7 maps of 900 x 1100 float64, ~55 MB) that writing it
    takes a while."""
    p = tmp_path_factory.mktemp("stats_big") / "big.zarr"
    rng = np.random.default_rng(5)
    t2m = rng.standard_normal((2, 900, 1100)).astype(np.float32)
    ds = xr.Dataset({"t2m": (("time", "lat", "lon"), t2m)},
                    coords={"lat": np.linspace(-90, 90, 900), "lon": np.linspace(0, 359, 1100)})
    ds.to_zarr(p, zarr_format=3, mode="w", encoding={"t2m": {"chunks": (1, 300, 1100)}})
    return p


def test_sigkill_while_writing_leaves_nothing(lsio_bin, big_store, tmp_path):
    """Kill lsio the moment its output starts to appear in the output's directory (the
    publication's temporary name): nothing may be at the output path."""
    killed_while_writing = 0
    for attempt in range(3):
        outdir = tmp_path / f"try{attempt}"
        outdir.mkdir()
        out = outdir / "res.zarr"
        proc = subprocess.Popen([str(lsio_bin), "stats", str(big_store), "--quiet", "--over",
                                 "time", "--stats", STATS, "--out", str(out)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and proc.poll() is None and not os.listdir(outdir):
                time.sleep(0.0005)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=30)
                if proc.returncode == -signal.SIGKILL and not out.exists():
                    killed_while_writing += 1
                    continue
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        # The run finished before the kill: then the output must be complete.
        assert proc.returncode in (0, -signal.SIGKILL), proc.stderr.read()
        if out.exists():
            res = xr.open_zarr(out)
            assert res["t2m_mean"].shape == (900, 1100)
    assert killed_while_writing >= 1
    # A later run writes the output normally.
    out = tmp_path / "after.zarr"
    subprocess.run([str(lsio_bin), "stats", str(big_store), "--quiet", "--over", "time",
                    "--stats", "mean", "--out", str(out)], check=True, capture_output=True)
    assert xr.open_zarr(out)["t2m_mean"].shape == (900, 1100)
