"""Shared pytest fixtures: where the built CLI is, and how to run it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

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
