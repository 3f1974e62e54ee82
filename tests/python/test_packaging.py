"""Packaging (issue 19): one version; the declared dependency ranges, the development pins and
the oldest supported versions agree; and `make wheel` gives a self-contained wheel that works in
a fresh venv with other numpy/xarray versions than the development environment's.

The wheel test (about a minute once `make build` is done: it repacks the same build tree) can
be skipped with LSIO_SKIP_WHEEL_TEST=1; it needs PyPI (or pip's cache) for the venv.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
import tomllib
import warnings
from pathlib import Path

import numpy as np
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

import lsio
import stats_data as sd
from conftest import ROOT, assert_float32_result, build_dir


def _cmake_version() -> str:
    m = re.search(r"^project\(lsio VERSION ([0-9]+\.[0-9]+\.[0-9]+)",
                  (ROOT / "CMakeLists.txt").read_text(), re.MULTILINE)
    assert m, "CMakeLists.txt: no project(lsio VERSION x.y.z)"
    return m.group(1)


def _pyproject() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def _declared() -> list[Requirement]:
    """lsio's runtime dependencies and those of its `dask` extra."""
    project = _pyproject()["project"]
    return [Requirement(r) for r in project["dependencies"]
            + project["optional-dependencies"]["dask"]]


def _pins(path: Path) -> dict[str, Version]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        req = Requirement(line)
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"{path.name}: {line} is not a pin"
        pins[canonicalize_name(req.name)] = Version(specs[0].version)
    return pins


def test_version_is_defined_once(cli):
    version = _cmake_version()
    assert lsio.__version__ == version
    assert importlib.metadata.version("lsio") == version
    assert cli.run("--version").stdout.strip() == f"lsio {version}"
    assert "version" in _pyproject()["project"]["dynamic"]


def test_declared_dependencies_are_ranges_and_the_dev_pins_fall_inside():
    dev = _pins(ROOT / "requirements" / "dev.txt")
    build = [Requirement(r) for r in _pyproject()["build-system"]["requires"]]
    for req in _declared() + build:
        assert not any(s.operator in ("==", "===") for s in req.specifier), str(req)
        name = canonicalize_name(req.name)
        assert name in dev, f"requirements/dev.txt does not pin {req.name}"
        assert req.specifier.contains(dev[name]), f"dev pin {name}=={dev[name]} outside {req}"


def test_development_environment_has_the_pins():
    if Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
        pytest.skip("not the development environment (.venv)")
    dev = _pins(ROOT / "requirements" / "dev.txt")
    for name in ("numpy", "xarray", "dask", "scikit-build-core", "nanobind", "zarr"):
        assert Version(importlib.metadata.version(name)) == dev[name], name


def test_oldest_pins_are_the_lower_bounds():
    oldest = _pins(ROOT / "requirements" / "oldest.txt")
    for req in _declared():
        lower = [s.version for s in req.specifier if s.operator == ">="]
        assert len(lower) == 1, f"{req}: one lower bound expected"
        assert oldest[canonicalize_name(req.name)] == Version(lower[0]), str(req)


# --- the wheel -------------------------------------------------------------------------------

# Libraries the wheel takes from the system: glibc's parts, libstdc++, libgcc_s and the dynamic
# loader; and zlib's libz.so.1 (needed by c-blosc only), which auditwheel's manylinux policies
# count as a system library and does not bundle, and which every Debian or Ubuntu system has
# (dpkg itself pre-depends on zlib1g); and expat's libexpat.so.1 (S3's XML), also on the
# manylinux whitelist and not bundled by auditwheel, which Python itself needs (pyexpat), so
# every system with a Python has it. Everything else must resolve inside the installed wheel.
SYSTEM_LIBS = {"linux-vdso.so.1", "ld-linux-x86-64.so.2", "libc.so.6", "libm.so.6",
               "libpthread.so.0", "libdl.so.2", "librt.so.1", "libstdc++.so.6", "libgcc_s.so.1",
               "libresolv.so.2", "libz.so.1", "libexpat.so.1"}

wheel_test = pytest.mark.skipif(os.environ.get("LSIO_SKIP_WHEEL_TEST") == "1",
                                reason="LSIO_SKIP_WHEEL_TEST=1")


def _clean_env() -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "LD_LIBRARY_PATH", "VIRTUAL_ENV", "LSIO_BUILD_DIR")}
    env["PATH"] = "/usr/bin:/bin"
    return env


def _run(cmd, **kw) -> subprocess.CompletedProcess:
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True,
                       env=kw.pop("env", _clean_env()), timeout=kw.pop("timeout", 900), **kw)
    assert r.returncode == 0, f"{' '.join(map(str, cmd))}:\n{r.stdout}\n{r.stderr}"
    return r


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    # The caller's environment: the same CMake as `make build` found, so the tree stays as is.
    _run(["make", "-s", "wheel", f"BUILD={build_dir()}", f"DIST={dist}"], cwd=ROOT,
         env=dict(os.environ), timeout=1800)
    wheels = list(dist.glob("lsio-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh venv with the wheel and the oldest supported numpy, xarray and tqdm (not dask)."""
    d = tmp_path_factory.mktemp("venv") / "v"
    _run([sys.executable, "-m", "venv", d])
    _run([d / "bin" / "python", "-m", "pip", "install", "-q", wheel,
          "-c", ROOT / "requirements" / "oldest.txt"])
    return d


def _site_packages(venv: Path) -> Path:
    return Path(_run([venv / "bin" / "python", "-c",
                      "import sysconfig; print(sysconfig.get_path('platlib'))"]).stdout.strip())


@wheel_test
def test_auditwheel_gives_the_wheel_its_manylinux_tag(wheel):
    show = _run([ROOT / ".venv" / "bin" / "auditwheel", "show", wheel],
                env={**_clean_env(), "PATH": f"{ROOT / '.venv' / 'bin'}:/usr/bin:/bin"}).stdout
    m = re.search(r'consistent\s+with\s+the\s+following\s+platform\s+tag:\s*'
                  r'"(manylinux_\d+_\d+_x86_64)"', show)
    assert m, show
    assert wheel.name.endswith(f"-{m.group(1)}.whl"), (wheel.name, show)
    assert wheel.name.startswith(f"lsio-{_cmake_version()}-cp311-cp311-"), wheel.name


@wheel_test
def test_installed_extension_and_cli_need_nothing_outside_the_wheel_but_the_system(venv):
    site = _site_packages(venv)
    exts = list((site / "lsio").glob("_lsio*.so"))
    assert len(exts) == 1, exts
    bundled = set()
    for elf in (exts[0], site / "lsio" / "bin" / "lsio"):
        out = _run(["ldd", elf]).stdout
        for line in out.splitlines():
            m = re.match(r"\s*(\S+)(?: => (\S+))? \(0x", line) or re.match(r"\s*(\S+) => (not found)",
                                                                           line)
            assert m, f"{elf}: unexpected ldd line {line!r}"
            soname, path = m.group(1), m.group(2)
            assert path != "not found", f"{elf}: {soname} not found"
            if path and Path(path).resolve().is_relative_to(site):
                bundled.add(soname.split(".so")[0])
            else:
                assert Path(soname).name in SYSTEM_LIBS, f"{elf} loads {soname} from {path}"
    # The libraries that are not glibc/libstdc++ come from the wheel (names get a hash suffix).
    for lib in ("liburing", "libtbb", "libblosc", "libzstd", "libdeflate", "libisal", "libhwy",
                "libcurl", "libcrypto"):
        assert any(b.startswith(lib) for b in bundled), (lib, bundled)


@wheel_test
def test_wheel_runs_lsio_stats_and_xarray_with_older_numpy_and_xarray(venv, tmp_path):
    py = venv / "bin" / "python"
    versions = json.loads(_run([py, "-c", "import json, importlib.metadata as m; print(json.dumps("
                                "{p: m.version(p) for p in ('numpy', 'xarray', 'tqdm', 'lsio')}))"],
                               cwd=tmp_path).stdout)
    oldest = _pins(ROOT / "requirements" / "oldest.txt")
    dev = _pins(ROOT / "requirements" / "dev.txt")
    for p in ("numpy", "xarray"):
        assert Version(versions[p]) == oldest[p] != dev[p], versions
    assert versions["lsio"] == _cmake_version()

    # Data written and checked here by xarray and zarr-python of the development environment.
    store = tmp_path / "x.zarr"
    sd.write_xarray_v3_sharded(store)
    t2m = sd.xarray_reference(store, "t2m")
    pres = sd.xarray_reference(store, "pres")

    lsio_cmd = venv / "bin" / "lsio"
    assert _run([lsio_cmd, "--version"]).stdout.strip() == f"lsio {_cmake_version()}"
    got = json.loads(_run([lsio_cmd, "stats", store, "--json", "--quiet"]).stdout)["variables"]
    sd.check_stats(got["t2m"], sd.reference(t2m))
    sd.check_stats(got["pres"], sd.reference(pres))

    out = tmp_path / "read.npz"
    script = f"""
import numpy as np, xarray as xr, lsio
assert lsio.__file__.startswith({str(venv)!r}), lsio.__file__
ds = xr.open_dataset({str(store)!r}, engine="lsio")
st = lsio.stats({str(store)!r}, var="t2m", over="time", stats=["mean"])
np.savez({str(out)!r}, t2m=ds["t2m"].values, pres=ds["pres"].isel(time=slice(3, 9)).values,
         mean=st["t2m_mean"].values)
try:
    lsio.to_dask({str(store)!r}, "t2m")
    raise SystemExit("to_dask worked without dask")
except ImportError as e:
    assert "lsio[dask]" in str(e), e
"""
    _run([py, "-c", script], cwd=tmp_path)
    read = np.load(out)
    np.testing.assert_array_equal(read["t2m"], t2m.astype(np.float32))
    np.testing.assert_array_equal(read["pres"], pres[3:9])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pixels: NaN, as lsio says
        want_mean = np.nanmean(t2m, axis=0)
    assert_float32_result(read["mean"], want_mean, rtol=1e-12)
