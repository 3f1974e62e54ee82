"""End to end over object storage: `lsio stats` and `lsio info` on s3:// (rclone serve s3,
which checks SigV4 signatures) and http:// (nginx) give what they give on the local copy of the
same stores. Servers run on 127.0.0.1, started and stopped here."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import xarray as xr
import pytest
import zarr

from conftest import FLOAT32_ROUNDING

from object_servers import KEY, SECRET, object_servers


def _write_stores(root: Path) -> list[str]:
    rng = np.random.default_rng(7)
    g3 = zarr.open_group(root / "v3.zarr", mode="w", zarr_format=3)
    a = g3.create_array("t2m", shape=(48, 30, 20), chunks=(12, 10, 10), dtype="f4",
                        dimension_names=["time", "lat", "lon"], fill_value=np.nan)
    a[:] = rng.normal(size=a.shape).astype("f4")
    a[0:12, 0:10, 0:10] = np.nan
    t = g3.create_array("time", shape=(48,), chunks=(48,), dtype="i8", dimension_names=["time"])
    t[:] = np.arange(48)
    # A key that needs encoding, and chunks left unwritten (the fill value).
    b = g3.create_array("k=v b", shape=(100,), chunks=(7,), dtype="i4", fill_value=-1)
    b[:50] = np.arange(50)
    zarr.consolidate_metadata(root / "v3.zarr")
    g2 = zarr.open_group(root / "v2.zarr", mode="w", zarr_format=2)
    c = g2.create_array("x", shape=(64, 64), chunks=(16, 16), dtype="f8")
    c[:] = rng.normal(size=c.shape)
    zarr.consolidate_metadata(root / "v2.zarr")
    return ["v3.zarr", "v2.zarr"]


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    base = tmp_path_factory.mktemp("objstore")
    local = base / "local"
    local.mkdir()
    names = _write_stores(local)
    (base / "data" / "bkt").mkdir(parents=True)
    (base / "www").mkdir()
    for n in names:
        shutil.copytree(local / n, base / "data" / "bkt" / n)
        shutil.copytree(local / n, base / "www" / n)
    with object_servers(base, base / "data", base / "www") as (endpoint, http):
        yield {"local": local, "s3": "s3://bkt", "http": http,
               "env": {**os.environ, "AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET,
                       "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": "us-east-1"}}


def _run(lsio_bin, env, *args, check=True):
    p = subprocess.run([str(lsio_bin), *args], capture_output=True, text=True, env=env,
                       timeout=300)
    if check:
        assert p.returncode == 0, p.stderr
    return p


def _drop_timing(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k not in ("seconds", "io_backend", "gb_per_s",
                                                       "read_gb_per_s", "decoded_gb_per_s")}


@pytest.mark.parametrize("store,args", [
    ("v3.zarr", []),
    ("v3.zarr", ["--var", "t2m", "--over", "lon"]),
    ("v3.zarr", ["--var", "t2m", "--isel", "time=5:40"]),
    ("v2.zarr", []),
])
def test_stats_equal_on_s3_http_and_disk(lsio_bin, servers, store, args):
    env = servers["env"]
    local = json.loads(_run(lsio_bin, env, "stats", str(servers["local"] / store), *args,
                            "--json").stdout)
    for remote in (f"{servers['s3']}/{store}", f"{servers['http']}/{store}"):
        got = json.loads(_run(lsio_bin, env, "stats", remote, *args, "--json").stdout)
        if "--over" in args:
            # Per-cell results add each cell's chunks in the order they arrive (whole-selection
            # results are merged in chunk order and are the same bits everywhere): equal up to
            # the rounding of a different summation order, which can move a float32 result (and
            # the summaries of a map) by an ulp.
            _assert_close(_drop_timing(got), _drop_timing(local), remote, rel=2 * FLOAT32_ROUNDING)
        else:
            assert _drop_timing(got) == _drop_timing(local), remote


def _assert_close(got, want, where, path="", rel=1e-13):
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), (where, path)
        for k in want:
            _assert_close(got[k], want[k], where, f"{path}/{k}", rel)
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), (where, path)
        for i, (g, w) in enumerate(zip(got, want)):
            _assert_close(g, w, where, f"{path}[{i}]", rel)
    elif isinstance(want, float) and isinstance(got, float):
        assert got == pytest.approx(want, rel=rel, abs=1e-15, nan_ok=True), (where, path)
    else:
        assert got == want, (where, path)


def test_info_equal_on_s3_and_disk(lsio_bin, servers):
    env = servers["env"]
    local = json.loads(_run(lsio_bin, env, "info", str(servers["local"] / "v3.zarr"),
                            "--json").stdout)
    got = json.loads(_run(lsio_bin, env, "info", f"{servers['s3']}/v3.zarr", "--json").stdout)
    local.pop("path", None)
    got.pop("path", None)
    assert got == local


def test_errors_name_the_location_and_hide_the_secret(lsio_bin, servers):
    env = servers["env"]
    p = _run(lsio_bin, env, "stats", f"{servers['s3']}/missing.zarr", check=False)
    assert p.returncode != 0 and "s3://bkt/missing.zarr" in p.stderr
    p = _run(lsio_bin, env, "stats", "s3://no-such-bucket/x.zarr", check=False)
    assert p.returncode != 0 and "no-such-bucket" in p.stderr and "does not exist" in p.stderr
    bad = {**env, "AWS_SECRET_ACCESS_KEY": "wrong-s3cr3t-value"}
    p = _run(lsio_bin, bad, "stats", f"{servers['s3']}/v3.zarr", check=False)
    assert p.returncode != 0 and "403" in p.stderr and "s3://bkt/v3.zarr" in p.stderr
    assert "wrong-s3cr3t-value" not in p.stderr and KEY not in p.stderr
    p = _run(lsio_bin, env, "stats", f"{servers['http']}/missing.zarr", check=False)
    assert p.returncode != 0 and "missing.zarr" in p.stderr


def test_python_api_on_s3_and_http(servers, monkeypatch):
    import lsio

    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL", "AWS_REGION"):
        monkeypatch.setenv(k, servers["env"][k])
    local = servers["local"] / "v3.zarr"
    want = lsio.stats(str(local), var="t2m", over="lon")
    expected = zarr.open_group(local, mode="r")["t2m"][:]
    for remote in (f"{servers['s3']}/v3.zarr", f"{servers['http']}/v3.zarr"):
        got = lsio.stats(remote, var="t2m", over="lon")
        # Per-cell sums in chunk arrival order (see test_stats_equal_on_s3_http_and_disk).
        xr.testing.assert_allclose(got, want, rtol=2 * FLOAT32_ROUNDING, atol=1e-15)
        assert int(got["t2m_count"].sum()) == int(want["t2m_count"].sum())
        arr = lsio.open(remote)["t2m"]
        np.testing.assert_array_equal(arr[3:30, 2:25, :], expected[3:30, 2:25, :])


def test_storage_options_from_flags_and_python_without_environment(lsio_bin, servers,
                                                                    monkeypatch):
    """The settings the environment gives can come from --storage-option / storage_options;
    --anon sends unsigned requests (which this server, checking signatures, refuses)."""
    import lsio

    env = servers["env"]
    bare = {k: v for k, v in env.items() if not k.startswith("AWS_")}
    endpoint = env["AWS_ENDPOINT_URL"]
    local = json.loads(_run(lsio_bin, env, "stats", str(servers["local"] / "v2.zarr"),
                            "--json").stdout)
    flags = ["--storage-option", f"endpoint_url={endpoint}", "--storage-option", f"key={KEY}",
             "--storage-option", f"secret={SECRET}", "--storage-option", "region=us-east-1"]
    got = json.loads(_run(lsio_bin, bare, "stats", f"{servers['s3']}/v2.zarr", *flags,
                          "--json").stdout)
    assert _drop_timing(got) == _drop_timing(local)
    info = _run(lsio_bin, bare, "info", f"{servers['s3']}/v2.zarr", *flags, "--json")
    assert json.loads(info.stdout)
    # Unsigned: refused by a server that checks signatures, and nothing secret in the message.
    p = _run(lsio_bin, bare, "stats", f"{servers['s3']}/v2.zarr", "--anon",
             "--storage-option", f"endpoint_url={endpoint}", check=False)
    assert p.returncode == 1 and "s3://bkt/v2.zarr" in p.stderr, p.stderr
    p = _run(lsio_bin, bare, "stats", f"{servers['s3']}/v2.zarr", "--storage-option", "oops",
             check=False)
    assert p.returncode == 1 and "KEY=VALUE" in p.stderr

    for k in list(os.environ):
        if k.startswith("AWS_"):
            monkeypatch.delenv(k)
    want = lsio.stats(str(servers["local"] / "v2.zarr"))
    got = lsio.stats(f"{servers['s3']}/v2.zarr", storage_options={
        "key": KEY, "secret": SECRET, "client_kwargs": {"endpoint_url": endpoint,
                                                         "region_name": "us-east-1"}})
    xr.testing.assert_equal(got, want)  # attrs differ in timing and io_backend only
    assert got.attrs["io_backend"] == "http"
    assert SECRET not in repr(got.attrs)
