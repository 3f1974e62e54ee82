"""The ``lsio`` console command of the Python package: it replaces itself (``os.execv``) with the
command-line tool installed in the package, ``lsio/bin/lsio``, so that arguments, exit codes,
output and Ctrl-C are the tool's own."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import lsio


def executable() -> Path:
    """The bundled ``lsio`` executable (FileNotFoundError if this installation has none)."""
    # An editable install lists the source directory and the installed one.
    for d in lsio.__path__:
        exe = Path(d) / "bin" / "lsio"
        if os.access(exe, os.X_OK):
            return exe
    raise FileNotFoundError(
        f"the lsio command-line tool is not in this installation of lsio ({', '.join(lsio.__path__)}"
        "): it was built without LSIO_BUILD_CLI")


def main() -> None:
    try:
        exe = executable()
    except FileNotFoundError as e:
        sys.exit(f"lsio: {e}")
    os.execv(exe, ["lsio", *sys.argv[1:]])
