"""Stores written at test time by zarr-python 3, TensorStore and xarray on which lsio once gave
wrong or unhelpful answers (issue 11): nested sharding with missing shards, non-finite
attributes, hist:N against numpy.histogram, unsupported single arrays, the --max-memory message,
and sum when nothing counts. Every expected value comes from the writer's own reading of the
store, xarray, or numpy."""

from __future__ import annotations

import json
import math
import re
import warnings
from pathlib import Path

import numcodecs
import numpy as np
import pytest
import tensorstore as ts
import xarray as xr
import zarr
from zarr.codecs import BytesCodec, GzipCodec, ShardingCodec

import lsio
import stats_data as sd
from lsio.errors import NotSupportedError

warnings.filterwarnings("ignore", message=".*Consolidated metadata.*")

# Their references are zarr-python >= 3.1 / numpy 2 / current xarray (see pyproject.toml).
pytestmark = pytest.mark.dev_references


# ---------------------------------------------------------------------- 1. nested sharding

def _index_codecs():
    return [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}]


def _write_nested_tensorstore(path: Path, dtype: str, fill) -> np.ndarray:
    """43x41, shards of 20x20 holding shards of 10x10 holding gzip chunks of 5x5, with whole
    outer shards, middle shards and innermost chunks never written."""
    spec = {
        "driver": "zarr3",
        "kvstore": {"driver": "file", "path": str(path)},
        "metadata": {
            "shape": [43, 41], "data_type": dtype,
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [20, 20]}},
            "codecs": [{"name": "sharding_indexed", "configuration": {
                "chunk_shape": [10, 10],
                "codecs": [{"name": "sharding_indexed", "configuration": {
                    "chunk_shape": [5, 5],
                    "codecs": [{"name": "bytes", "configuration": {"endian": "little"}},
                               {"name": "gzip", "configuration": {"level": 5}}],
                    "index_codecs": _index_codecs()}}],
                "index_codecs": _index_codecs()}}],
            "fill_value": fill,
        },
        "create": True, "delete_existing": True,
    }
    a = ts.open(spec).result()
    _write_nested_pattern(a, dtype)
    return a.read().result()


def _write_nested_zarr_python(path: Path, dtype: str, fill) -> np.ndarray:
    inner = ShardingCodec(chunk_shape=(5, 5), codecs=[BytesCodec(), GzipCodec(level=5)])
    a = zarr.create_array(path, shape=(43, 41), chunks=(20, 20), dtype=dtype, fill_value=fill,
                          serializer=ShardingCodec(chunk_shape=(10, 10), codecs=[inner]),
                          compressors=None)
    _write_nested_pattern(a, dtype)
    return zarr.open_array(path, mode="r")[...]


def _write_nested_pattern(a, dtype: str) -> None:
    rng = np.random.default_rng(11)
    v = (rng.integers(0, 250, size=(43, 41))).astype(dtype)
    # Outer shard (0, 0) is never written; (0, 1) and (0, 2) are whole.
    a[0:20, 20:41] = v[0:20, 20:41]
    # Outer shard (1, 0): middle shards (0, 0) and (1, 0) only; (1, 1) and (1, 2) never.
    a[20:40, 0:10] = v[20:40, 0:10]
    # Outer shards of the last row: one innermost chunk of a middle shard, and a partial row.
    a[41:43, 3:4] = v[41:43, 3:4]
    a[40:41, 30:41] = v[40:41, 30:41]


NESTED_WRITERS = {"tensorstore": _write_nested_tensorstore,
                  "zarr-python": _write_nested_zarr_python}


@pytest.mark.parametrize("writer", sorted(NESTED_WRITERS))
@pytest.mark.parametrize("dtype", ["int32", "uint8", "float64"])
def test_nested_sharding_missing_shards_are_the_fill_value(cli, tmp_path, writer, dtype):
    path = tmp_path / "nested.zarr"
    values = NESTED_WRITERS[writer](path, dtype, 3)
    # Both writers read the missing parts as the fill value.
    assert (values[0:20, 0:20] == 3).all() and (values[20:40, 20:41] == 3).all()
    np.testing.assert_array_equal(zarr.open_array(path, mode="r")[...], values)
    ref = values.astype(np.float64)
    want = sd.reference(ref)
    exact = dtype != "float64"
    for extra in ([], ["--on-error", "skip"], ["--threads", "1", "--io", "posix"]):
        got = cli.json("stats", path, "--quiet", *extra)["variables"][""]
        sd.check_stats(got, want, exact_sum=exact)
        if extra[:1] == ["--on-error"]:
            assert got["skipped_chunks"] == [] and got["skipped_elements"] == 0
    # A selection that cuts through present and missing shards.
    got = cli.json("stats", path, "--quiet", "--isel", "dim_0=15:42",
                   "--isel", "dim_1=5:33")["variables"][""]
    sd.check_stats(got, sd.reference(ref[15:42, 5:33]), exact_sum=exact)
    # Per-column statistics (a grid consumer) and a histogram (a second pass) meet the fill too.
    out = lsio.stats(str(path), over="dim_0", stats=["count", "mean", "max"])
    np.testing.assert_array_equal(out["data_max"].values, ref.max(axis=0))
    np.testing.assert_allclose(out["data_mean"].values, ref.mean(axis=0), rtol=1e-12)
    h = cli.json("stats", path, "--quiet", "--stats", "hist:9")["variables"][""]["histogram"]
    counts, edges = np.histogram(values, bins=9)
    assert h["counts"] == counts.tolist()
    assert h["edges"] == edges.tolist()
    # And the read path agrees with the writers.
    np.testing.assert_array_equal(lsio.open(path)[...], values)


# -------------------------------------------------------------- 2. non-finite attributes

NONFINITE_ATTRS = {"valid_max": math.nan, "actual_range": [0, math.inf], "lowest": -math.inf,
                   "units": "K"}


def _same(a, b) -> bool:
    """Equality that takes NaN for NaN, through dicts and lists."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def _nonfinite_dataset() -> xr.Dataset:
    rng = np.random.default_rng(5)
    t = rng.standard_normal((6, 4)).astype(np.float32)
    ds = xr.Dataset({"t": (("x", "y"), t, dict(NONFINITE_ATTRS))},
                    coords={"x": ("x", np.arange(6.0), {"valid_min": -math.inf}),
                            "y": ("y", np.arange(4.0))})
    ds.attrs["history_nan"] = math.nan
    return ds


@pytest.mark.parametrize("fmt,consolidated", [(2, True), (2, False), (3, True), (3, False)])
def test_nonfinite_attributes_written_by_xarray(cli, tmp_path, fmt, consolidated):
    path = tmp_path / "attrs.zarr"
    _nonfinite_dataset().to_zarr(path, zarr_format=fmt, consolidated=consolidated, mode="w")
    meta = (path / "t" / (".zattrs" if fmt == 2 else "zarr.json")).read_text()
    assert "NaN" in meta and "-Infinity" in meta  # the bare tokens, as Python's json writes

    # lsio info, text and JSON.
    text = cli.run("info", path).stdout
    assert '"valid_max":NaN' in text and '"actual_range":[0,Infinity]' in text
    assert '"lowest":-Infinity' in text and '"history_nan":NaN' in text
    doc = json.loads(cli.run("info", path, "--json").stdout)
    nodes = {n["path"]: n for n in doc["nodes"]}
    z = zarr.open_group(path, mode="r")
    for name in ("t", "x"):
        want = {k: v for k, v in z[name].attrs.asdict().items() if k != "_ARRAY_DIMENSIONS"}
        assert _same(nodes[name]["attributes"], want), name
    assert _same(nodes[""]["attributes"], z.attrs.asdict())

    # lsio.open and the xarray engine.
    root = lsio.open(path)
    assert _same({k: v for k, v in root["t"].attrs.items() if k in NONFINITE_ATTRS},
                 NONFINITE_ATTRS)
    assert math.isnan(root.attrs["history_nan"])
    ours = xr.open_dataset(path, engine="lsio")
    theirs = xr.open_zarr(path)
    xr.testing.assert_identical(ours, theirs)
    assert math.isnan(ours["t"].attrs["valid_max"])
    assert ours["x"].attrs["valid_min"] == -math.inf

    # Statistics run, and a --out group carries the coordinate's attributes as written.
    got = cli.json("stats", path, "--quiet", "--var", "t")["variables"]["t"]
    sd.check_stats(got, sd.reference(theirs["t"].values))
    out = tmp_path / "out.zarr"
    cli.run("stats", path, "--quiet", "--var", "t", "--over", "y", "--out", out)
    assert "-Infinity" in (out / "x" / "zarr.json").read_text()  # v3, the default
    back = xr.open_zarr(out)
    assert back["x"].attrs["valid_min"] == -math.inf
    out2 = tmp_path / "out2.zarr"
    cli.run("stats", path, "--quiet", "--var", "t", "--over", "y", "--out", out2,
            "--out-format", "2")
    assert "-Infinity" in (out2 / "x" / ".zattrs").read_text()
    assert xr.open_zarr(out2)["x"].attrs["valid_min"] == -math.inf
    res = lsio.stats(str(path), var="t", over="y", stats=["mean"])
    assert res["x"].attrs["valid_min"] == -math.inf


def test_nonfinite_attributes_written_by_zarr_python(cli, tmp_path):
    path = tmp_path / "zp.zarr"
    root = zarr.open_group(path, mode="w", zarr_format=3)
    root.attrs.update({"g": -math.inf, "nested": {"x": [math.nan, 1.5]}})
    a = root.create_array("a", shape=(5,), chunks=(2,), dtype="float64",
                          dimension_names=["i"], attributes=dict(NONFINITE_ATTRS))
    a[...] = np.arange(5.0)
    zarr.consolidate_metadata(path)
    assert "Infinity" in (path / "zarr.json").read_text()
    doc = json.loads(cli.run("info", path, "--json").stdout)
    nodes = {n["path"]: n for n in doc["nodes"]}
    assert _same(nodes[""]["attributes"], zarr.open_group(path, mode="r").attrs.asdict())
    assert _same(nodes["a"]["attributes"], NONFINITE_ATTRS)
    assert _same(lsio.open(path)["a"].attrs, NONFINITE_ATTRS)
    got = cli.json("stats", path, "--quiet")["variables"]["a"]
    sd.check_stats(got, sd.reference(np.arange(5.0)))


# ------------------------------------------------------------------------- 3. histograms

def _numpy_histogram(values: np.ndarray, bins: int):
    """np.histogram of the values xarray returns, NaN left out, or None where numpy refuses."""
    v = values[~np.isnan(values)] if values.dtype.kind == "f" else values
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.histogram(v.ravel(), bins=bins)
    except ValueError:
        return None


def _check_histogram(cli, path, var: str, bins: int, values: np.ndarray) -> None:
    expected = _numpy_histogram(values, bins)
    r = cli.run("stats", path, "--quiet", "--json", "--var", var, "--stats", f"count,hist:{bins}",
                check=False)
    if expected is None:
        assert r.returncode == 1, r.stdout
        assert "hist" in r.stderr or "too many bins" in r.stderr, r.stderr
        return
    assert r.returncode == 0, r.stderr
    h = json.loads(r.stdout)["variables"][var]["histogram"]
    counts, edges = expected
    assert h["counts"] == counts.tolist(), (var, bins)
    # Exactly numpy's edges, in the values' own type.
    assert h["edges"] == edges.astype(np.float64).tolist(), (var, bins, edges.dtype)


def test_histogram_float16_written_by_xarray(cli, tmp_path):
    rng = np.random.default_rng(16)
    v = (rng.standard_normal((40, 50)) * 3 + 12).astype(np.float16)
    v[rng.random(v.shape) < 0.05] = np.nan
    path = tmp_path / "f16.zarr"
    xr.Dataset({"h": (("a", "b"), v)}).to_zarr(
        path, zarr_format=3, mode="w", encoding={"h": {"chunks": (7, 9)}})
    values = xr.open_zarr(path)["h"].values
    assert values.dtype == np.float16
    for bins in (7, 12, 100, 1000):
        _check_histogram(cli, path, "h", bins, values)


def test_histogram_float32_values_on_numpy_edges(cli, tmp_path):
    rng = np.random.default_rng(32)
    base = (rng.standard_normal(6000) * 7 + 280).astype(np.float32)
    _, edges = np.histogram(base, bins=1000)
    # Values equal to every edge (in float32), so that a bin boundary one ulp off shows.
    v = np.concatenate([base, edges.astype(np.float32), np.full(14, np.nan, np.float32)])
    v = v[: (v.size // 10) * 10].reshape(-1, 10)
    path = tmp_path / "f32.zarr"
    xr.Dataset({"t": (("a", "b"), v)}).to_zarr(
        path, zarr_format=2, mode="w", encoding={"t": {"chunks": (97, 10)}})
    values = xr.open_zarr(path)["t"].values
    assert values.dtype == np.float32
    for bins in (1000, 999, 17):
        _check_histogram(cli, path, "t", bins, values)
    # lsio.stats hands out the same histogram.
    ds = lsio.stats(str(path), var="t", stats="hist:1000")
    counts, edges = _numpy_histogram(values, 1000)
    np.testing.assert_array_equal(ds["t_histogram"].values, counts)
    np.testing.assert_array_equal(ds["t_histogram_edges"].values, edges.astype(np.float64))


@pytest.mark.parametrize("store", ["xr_v2", "xr_v3"])
def test_histogram_of_cf_decoded_values(cli, tmp_path, store):
    """int16 packed with scale_factor/add_offset/_FillValue (decoded to float64 by xarray), and
    int16 with only a _FillValue (decoded to float32), a negative scale, written by xarray."""
    path = tmp_path / f"{store}.zarr"
    (sd.write_xarray_v2 if store == "xr_v2" else sd.write_xarray_v3_sharded)(path)
    ds = xr.open_zarr(path)
    assert ds["pres"].dtype == np.float64
    for bins in (10, 333, 1000):
        _check_histogram(cli, path, "pres", bins, ds["pres"].values)

    rng = np.random.default_rng(8)
    raw = rng.integers(-500, 500, size=(30, 40)).astype(np.float64)
    raw[rng.random(raw.shape) < 0.1] = np.nan
    other = tmp_path / f"{store}_other.zarr"
    xr.Dataset({"masked": (("a", "b"), raw), "flipped": (("a", "b"), raw * -0.01 + 3)}).to_zarr(
        other, zarr_format=2 if store == "xr_v2" else 3, mode="w",
        encoding={"masked": {"dtype": "int16", "_FillValue": -32767, "chunks": (7, 11)},
                  "flipped": {"dtype": "int16", "_FillValue": -32767, "scale_factor": -0.01,
                              "add_offset": 3.0, "chunks": (7, 11)}})
    ds = xr.open_zarr(other)
    assert ds["masked"].dtype == np.float32 and ds["flipped"].dtype == np.float64
    for var in ("masked", "flipped"):
        for bins in (9, 100, 1000):
            _check_histogram(cli, other, var, bins, ds[var].values)


@pytest.mark.parametrize("fmt", [2, 3])
def test_histogram_every_dtype_written_by_zarr_python(cli, tmp_path, fmt):
    path = tmp_path / f"zp{fmt}.zarr"
    sd.write_zarr_python_group(path, fmt)
    ds = xr.open_zarr(path) if fmt == 2 else None
    for dtype in sd.DTYPES:
        if dtype == "bool":
            continue  # numpy.histogram has no answer for bool data
        values = (ds[dtype].values if ds is not None
                  else zarr.open_array(path / dtype, mode="r")[...])
        for bins in (10, 1000):
            # Float data holds infinities: numpy refuses it, and so must lsio.
            _check_histogram(cli, path, dtype, bins, values)


def test_histogram_tensorstore(cli, tmp_path):
    path = tmp_path / "ts.zarr"
    sd.write_tensorstore(path)
    for var in ("u16", "f64"):
        values = zarr.open_array(path / var, mode="r")[...]
        for bins in (64, 1000):
            _check_histogram(cli, path, var, bins, values)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_histogram_of_no_values(cli, tmp_path, dtype):
    """All NaN: numpy's range for no data is (0, 1), whose edges it computes in float64."""
    path = tmp_path / "nan.zarr"
    a = zarr.create_array(path, shape=(6,), chunks=(4,), dtype=dtype, fill_value=np.nan)
    a[0:4] = np.nan
    values = zarr.open_array(path, mode="r")[...]
    for bins in (7, 10, 1000):
        _check_histogram(cli, path, "", bins, values)


# ------------------------------------------------------------ 4. unsupported single arrays

@pytest.mark.parametrize("fmt", [2, 3])
def test_single_array_of_unsupported_dtype_says_why(cli, tmp_path, fmt):
    path = tmp_path / "c64.zarr"
    a = zarr.create_array(path, shape=(4, 3), chunks=(2, 3), dtype="complex64", zarr_format=fmt)
    a[...] = np.arange(12).reshape(4, 3) * (1 + 2j)
    named = cli.run("stats", path, "--var", "", check=False)
    default = cli.run("stats", path, check=False)
    assert named.returncode == default.returncode == 1
    assert "statistics not supported: dtype complex64" in named.stderr
    assert default.stderr == named.stderr
    with pytest.raises(NotSupportedError, match="statistics not supported: dtype complex64"):
        lsio.stats(str(path))


def test_group_with_nothing_to_summarise_lists_what_it_skipped(cli, tmp_path):
    path = tmp_path / "g.zarr"
    root = zarr.open_group(path, mode="w", zarr_format=3)
    root.create_array("c", shape=(3,), chunks=(3,), dtype="complex128",
                      dimension_names=["i"])[...] = 1j
    root.create_array("when", shape=(3,), chunks=(3,), dtype="int64", dimension_names=["i"],
                      attributes={"units": "days since 2000-01-01"})[...] = 1
    r = cli.run("stats", path, check=False)
    assert r.returncode == 1
    assert "no data variable with statistics to compute" in r.stderr
    assert "'c': statistics not supported: dtype complex128" in r.stderr
    assert "'when': statistics of times are not supported" in r.stderr


# ------------------------------------------------------------------------ 5. --max-memory

def test_max_memory_message_gives_the_budget_and_a_minimum_that_works(cli, tmp_path):
    path = tmp_path / "one_shard.zarr"
    a = zarr.create_array(path, shape=(1024, 1024), chunks=(128, 128), shards=(1024, 1024),
                          dtype="float32", compressors=None)
    rng = np.random.default_rng(4)
    values = rng.standard_normal((1024, 1024)).astype(np.float32)
    a[...] = values
    assert (path / "c" / "0" / "0").stat().st_size >= 4 << 20
    r = cli.run("stats", path, "--max-memory", "256KiB", check=False)
    assert r.returncode == 1
    assert "--max-memory 256 KiB is too small" in r.stderr, r.stderr
    assert "decoded chunks of 64 KiB" in r.stderr, r.stderr  # a 128x128 float32 chunk
    assert " 0 MiB" not in r.stderr
    m = re.search(r"at least ([0-9.]+) (bytes|KiB|MiB|GiB)", r.stderr)
    assert m, r.stderr
    unit = {"bytes": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[m.group(2)]
    minimum = math.ceil(float(m.group(1)) * unit)
    # The stated minimum is enough (and gives numpy's answer); a little less is not.
    got = cli.json("stats", path, "--quiet", "--max-memory", str(minimum))["variables"][""]
    sd.check_stats(got, sd.reference(values))
    assert got["count"] == values.size
    assert cli.run("stats", path, "--max-memory", str(minimum - 4096), check=False).returncode == 1


# ---------------------------------------------------------------- 6. sum when count is 0

def test_sum_is_zero_when_nothing_counts(cli, tmp_path):
    path = tmp_path / "empty.zarr"
    root = zarr.open_group(path, mode="w", zarr_format=3)
    f = root.create_array("f", shape=(4, 6), chunks=(2, 3), dtype="float32", fill_value=np.nan,
                          dimension_names=["y", "x"])
    f[0:2, 0:3] = np.nan  # one chunk written, all NaN; the rest never written
    # Zarr v2 semantics through xarray: every value equal to the fill value is masked.
    v2 = tmp_path / "masked.zarr"
    xr.Dataset({"i": (("y", "x"), np.full((4, 6), -1, np.int32))}).to_zarr(
        v2, zarr_format=2, mode="w", encoding={"i": {"_FillValue": -1}})
    for p, var in ((path, "f"), (v2, "i")):
        values = xr.open_zarr(p)[var].values
        assert np.isnan(values).all()
        got = cli.json("stats", p, "--quiet", "--var", var)["variables"][var]
        assert got["count"] == 0 and got["nan_count"] == values.size
        assert got["sum"] == np.nansum(values) == 0
        for k in ("min", "max", "mean", "std"):
            assert got[k] is None, k
        row = cli.run("stats", p, "--quiet", "--var", var).stdout.splitlines()[1].split()
        assert row[1:] == ["0", str(values.size), "-", "-", "0", "-", "-"], row
        ds = lsio.stats(str(p), var=var)
        assert float(ds[f"{var}_sum"]) == 0.0 and np.isnan(float(ds[f"{var}_mean"]))
    # Per cell: the all-NaN cells sum to 0, as np.nansum gives.
    values = xr.open_zarr(path)["f"].values
    ds = lsio.stats(str(path), var="f", over="y", stats=["count", "sum", "mean"])
    np.testing.assert_array_equal(ds["f_sum"].values, np.nansum(values, axis=0))
    assert np.isnan(ds["f_mean"].values).all()
