#!/usr/bin/env python3
"""Exports the ecCodes definition files that gen_concepts.py reads from the ecCodes embedded in
the eccodeslib wheel (whose definitions live in a memory file system inside
libeccodes_memfs.so, not on disk), using the wheel's own codes_export_resource tool.

    python export_eccodes_definitions.py --out DIR

Run it with the Python that has the pinned eccodeslib (the project's .venv). Writes DIR/<path>
for every needed file and DIR/ECCODES_VERSION; exits 2 (and writes nothing) when eccodeslib is
not installed, so that the build can fall back to another definitions directory.
"""
import argparse
import concurrent.futures
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_concepts  # noqa: E402


def wanted(path):
    names = gen_concepts.concept_file_names() + ["section.4.def"]
    if path in ("common/c-11.table", "mars/class.table", "mars/type.table"):
        return True
    m = re.fullmatch(r"grib2/(?:localConcepts/[^/]+/)?([^/]+)", path)
    if not m:
        return False
    if "/" in path[len("grib2/"):] and m.group(1) == "section.4.def":
        return False
    return m.group(1) in names


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--stamp", default="",
                    help="text to write into DIR/ECCODES_VERSION (default: the wheel version)")
    a = ap.parse_args()
    try:
        import eccodeslib
    except ImportError:
        print("export_eccodes_definitions: eccodeslib is not installed", file=sys.stderr)
        return 2
    root = os.path.dirname(os.path.abspath(eccodeslib.__file__))
    lib = os.path.join(root, "lib64", "libeccodes_memfs.so")
    tool = os.path.join(root, "bin", "codes_export_resource")
    if not (os.path.isfile(lib) and os.access(tool, os.X_OK)):
        print(f"export_eccodes_definitions: {root} has no MEMFS library or export tool",
              file=sys.stderr)
        return 2
    with open(lib, "rb") as f:
        data = f.read()
    paths = sorted({m.decode() for m in re.findall(rb"/MEMFS/definitions/([A-Za-z0-9_./+-]+)", data)})
    paths = [p for p in paths if wanted(p)]
    if "grib2/paramId.def" not in paths:
        print("export_eccodes_definitions: grib2/paramId.def not found in the MEMFS library",
              file=sys.stderr)
        return 1
    def export(p):
        dest = os.path.join(a.out, p)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        r = subprocess.run([tool, "-d", p, dest], capture_output=True, text=True)
        if r.returncode != 0 or not os.path.isfile(dest):
            return f"cannot export {p}: {r.stderr.strip()}"
        return None

    # One process per file; a few at a time.
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        errors = [e for e in pool.map(export, paths) if e]
    if errors:
        print("export_eccodes_definitions: " + errors[0], file=sys.stderr)
        return 1
    with open(os.path.join(a.out, "ECCODES_VERSION"), "w") as f:
        f.write((a.stamp or getattr(eccodeslib, "__version__", "unknown")) + "\n")
    print(f"export_eccodes_definitions: {len(paths)} files from eccodeslib "
          f"{getattr(eccodeslib, '__version__', '?')} into {a.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
