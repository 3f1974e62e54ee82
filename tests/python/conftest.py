"""Shared pytest fixtures: where the built CLI is, and how to run it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
def _shared_fixtures() -> Path:
    env = os.environ.get("LSIO_SHARED_FIXTURES")
    for candidate in ([Path(env)] if env else []) + [ROOT.parent / "shared" / "fixtures",
                                                     Path("/work/shared/fixtures")]:
        if (candidate / "zarrs").is_dir():
            return candidate / "zarrs"
    raise RuntimeError("shared Zarr fixtures not found: set LSIO_SHARED_FIXTURES")


FIXTURES = _shared_fixtures()


def build_dir() -> Path:
    return Path(os.environ.get("LSIO_BUILD_DIR", ROOT / "build")).resolve()


def cli_path() -> Path:
    """The CLI under test: build/bin/lsio, or LSIO_CLI (scripts/test-oldest points it at the tool
    installed from the wheel)."""
    env = os.environ.get("LSIO_CLI")
    return Path(env) if env else build_dir() / "bin" / "lsio"


@pytest.fixture(scope="session")
def lsio_bin() -> Path:
    exe = cli_path()
    if not exe.exists():
        pytest.fail(f"{exe} is missing: run `make build` first")
    return exe


class Cli:
    def __init__(self, exe: Path):
        self.exe = exe

    def run(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
        proc = subprocess.run([str(self.exe), *map(str, args)], capture_output=True, text=True,
                              timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"lsio {' '.join(map(str, args))} failed "
                                 f"({proc.returncode}):\n{proc.stderr}")
        return proc

    def json(self, *args: str) -> dict:
        return json.loads(self.run(*args, "--json").stdout)


@pytest.fixture(scope="session")
def cli(lsio_bin: Path) -> Cli:
    return Cli(lsio_bin)


# Per-cell statistics (over, groupby, resample) of float32 values are float32, the type numpy's
# and xarray's reductions return: lsio accumulates in float64 and rounds once, so each result
# is within half a float32 ulp (2**-24, relative) of its float64 value.
FLOAT32_ROUNDING = 2.0 ** -24


def assert_float32_result(got, want, rtol=0.0, atol=0.0, **kw):
    """`got` is float32 and equals the float64 `want` rounded to float32, where lsio's float64
    value may differ from `want` by `rtol` / `atol` (another summation order)."""
    got = np.asarray(got)
    assert got.dtype == np.float32, got.dtype
    np.testing.assert_allclose(got.astype(np.float64), want, rtol=rtol + FLOAT32_ROUNDING,
                               atol=atol, **kw)
