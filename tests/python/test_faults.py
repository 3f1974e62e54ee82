"""Fault injection (issue 7, parts 3 and 4): damaged chunk files and shards, unreadable and
vanishing files, absurd metadata, keys that try to leave the store, io_uring refused by seccomp;
and `--on-error skip` checked against numpy over the chunks that were not skipped.

Every fault must give its documented outcome (docs/reliability.md): an error naming the
variable, the chunk and the file and the cause, exit code 1 and nothing on stdout; bounded
memory; no descriptors or threads left behind. The stores are written by zarr-python; the
damage is done to their files by hand, following the Zarr specs' byte layouts.
"""

from __future__ import annotations

import ctypes
import json
import os
import platform
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import crc32c
import numcodecs
import numpy as np
import pytest
import xarray as xr
import zarr
from zarr.codecs import Crc32cCodec, ZstdCodec

import lsio
import stats_data as sd

SHAPE = (12, 10, 9)
CHUNKS = (4, 5, 4)     # the x edge chunks hold one column
SHARDS = (8, 10, 8)    # 2 x 2 x 2 inner chunks per shard; the edge shards are partly outside
DIMS = ["time", "y", "x"]
KINDS = ["v2", "v3", "v3_sharded"]
# Uncompressed, no checksum: a selection that needs little of a chunk reads only that part.
RAW = "v2_raw"


def _values() -> np.ndarray:
    rng = np.random.default_rng(sd.RNG_SEED + 70)
    v = rng.standard_normal(SHAPE) * 3 + 10
    v[rng.random(SHAPE) < 0.05] = np.nan
    return v


def _write(path: Path, kind: str, values: np.ndarray) -> None:
    """Array 't' in a group. Every store has a checksum over each chunk, so that any damage
    to a chunk is detected (v2: a crc32c filter checks the decompressed bytes; v3: crc32c
    after zstd; sharded: the same inside each inner chunk, and crc32c on the index)."""
    g = zarr.open_group(path, mode="w", zarr_format=3 if kind.startswith("v3") else 2)
    if kind == RAW:
        a = g.create_array("t", shape=SHAPE, chunks=CHUNKS, dtype="f8", fill_value=np.nan,
                           compressors=None)
        a.attrs["_ARRAY_DIMENSIONS"] = DIMS
    elif kind == "v2":
        a = g.create_array("t", shape=SHAPE, chunks=CHUNKS, dtype="f8", fill_value=np.nan,
                           filters=[numcodecs.CRC32C()], compressors=[numcodecs.Zstd(level=1)])
        a.attrs["_ARRAY_DIMENSIONS"] = DIMS
    else:
        a = g.create_array("t", shape=SHAPE, chunks=CHUNKS, dtype="f8", fill_value=np.nan,
                           shards=SHARDS if kind == "v3_sharded" else None,
                           compressors=[ZstdCodec(level=1), Crc32cCodec()],
                           dimension_names=DIMS)
    a[...] = values


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("faults")
    values = _values()
    out = {}
    for kind in KINDS + [RAW]:
        p = d / f"{kind}.zarr"
        _write(p, kind, values)
        out[kind] = p
    return {"paths": out, "values": values}


# --- where things are in a store --------------------------------------------------------------

def _key(kind: str, grid) -> str:
    return "c/" + "/".join(map(str, grid)) if kind.startswith("v3") else ".".join(map(str, grid))


def _file(store: Path, kind: str, grid) -> Path:
    return store / "t" / _key(kind, grid)


def _region(grid, shape) -> tuple:
    return tuple(slice(g * s, min((g + 1) * s, n)) for g, s, n in zip(grid, shape, SHAPE))


@dataclass
class Lost:
    """A chunk (or inner chunk) a fault makes unreadable."""
    key: str       # as lsio names it: "1.1.1", "c/1/1/1", "c/0/0/0 inner chunk [0, 1, 0]"
    path: Path     # the file
    region: tuple  # its elements in the array


def _inner_chunks(kind: str, store: Path, shard) -> list[Lost]:
    """Every inner chunk of `shard` that holds part of the array."""
    out = []
    per = [s // c for s, c in zip(SHARDS, CHUNKS)]
    for inner in np.ndindex(*per):
        grid = [s * p + i for s, p, i in zip(shard, per, inner)]
        if any(g * c >= n for g, c, n in zip(grid, CHUNKS, SHAPE)):
            continue
        out.append(Lost(f"{_key(kind, shard)} inner chunk [{', '.join(map(str, inner))}]",
                        _file(store, kind, shard), _region(grid, CHUNKS)))
    return out


def _shard_index(path: Path) -> tuple[bytearray, list[list[int]]]:
    """The shard's bytes and its index entries [offset, nbytes] (index at the end: 8 entries
    of two little-endian u64, then crc32c)."""
    data = bytearray(path.read_bytes())
    n = 8
    idx = data[-(n * 16 + 4):-4]
    return data, [list(struct.unpack_from("<QQ", idx, i * 16)) for i in range(n)]


def _write_shard_index(path: Path, data: bytearray, entries) -> None:
    idx = b"".join(struct.pack("<QQ", *e) for e in entries)
    data[-(len(entries) * 16 + 4):] = idx + struct.pack("<I", crc32c.crc32c(idx))
    path.write_bytes(bytes(data))


# --- the faults -------------------------------------------------------------------------------
# Each damages a copy of a store and returns (what is lost, a word of the cause lsio must give).
# Non-sharded stores lose chunk (1, 1, 1); sharded ones shard (0, 0, 0), or its inner chunk
# [0, 1, 0] where the damage is inside one inner chunk.
CHUNK = (1, 1, 1)
SHARD = (0, 0, 0)
INNER = (0, 1, 0)


def _target(store: Path, kind: str) -> list[Lost]:
    if kind == "v3_sharded":
        return _inner_chunks(kind, store, SHARD)
    return [Lost(_key(kind, CHUNK), _file(store, kind, CHUNK), _region(CHUNK, CHUNKS))]


def _fault_truncated(store, kind):
    lost = _target(store, kind)
    f = lost[0].path
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    return lost, "CorruptData"  # sharded: the index read from the end is garbage (crc32c)


def _fault_zero_length(store, kind):
    lost = _target(store, kind)
    lost[0].path.write_bytes(b"")
    return lost, "CorruptData"


def _fault_bit_flip(store, kind):
    lost = _target(store, kind)
    f = lost[0].path
    data = bytearray(f.read_bytes())
    if kind == "v3_sharded":
        # Inside inner chunk [0, 1, 0]'s compressed bytes: only that inner chunk is lost.
        _, entries = _shard_index(f)
        offset, nbytes = entries[INNER[0] * 4 + INNER[1] * 2 + INNER[2]]
        data[offset + nbytes // 2] ^= 0x10
        lost = [x for x in lost if x.key.endswith("[0, 1, 0]")]
    else:
        data[len(data) // 2] ^= 0x10
    f.write_bytes(bytes(data))
    return lost, "CorruptData"


def _fault_directory(store, kind):
    lost = _target(store, kind)
    f = lost[0].path
    f.unlink()
    f.mkdir()
    return lost, "Is a directory"


def _fault_index_outside(store, kind):
    lost = [x for x in _target(store, kind) if x.key.endswith("[0, 1, 0]")]
    f = lost[0].path
    data, entries = _shard_index(f)
    entries[INNER[0] * 4 + INNER[1] * 2 + INNER[2]][0] = len(data) + 1000
    _write_shard_index(f, data, entries)
    return lost, "the shard index points outside the file"


def _fault_index_checksum(store, kind):
    lost = _target(store, kind)
    f = lost[0].path
    data = bytearray(f.read_bytes())
    data[-10] ^= 0x01  # inside the index: the whole shard is lost
    f.write_bytes(bytes(data))
    return lost, "crc32c"


def _fault_index_huge_entry(store, kind):
    lost = [x for x in _target(store, kind) if x.key.endswith("[0, 1, 0]")]
    f = lost[0].path
    data, entries = _shard_index(f)
    entries[INNER[0] * 4 + INNER[1] * 2 + INNER[2]] = [0, 1 << 40]  # a terabyte inner chunk
    _write_shard_index(f, data, entries)
    return lost, "more than any encoding"


FAULTS = {
    "truncated": (_fault_truncated, KINDS + [RAW]),
    "zero_length": (_fault_zero_length, KINDS + [RAW]),
    "bit_flip": (_fault_bit_flip, KINDS),  # (RAW has no checksum to notice)
    "directory": (_fault_directory, KINDS + [RAW]),
    "index_outside": (_fault_index_outside, ["v3_sharded"]),
    "index_checksum": (_fault_index_checksum, ["v3_sharded"]),
    "index_huge_entry": (_fault_index_huge_entry, ["v3_sharded"]),
}
CASES = [(k, f) for f, (_, kinds) in FAULTS.items() for k in kinds]


def _damaged(stores, kind, fault, tmp_path) -> tuple[Path, list[Lost], str]:
    store = tmp_path / f"{kind}-{fault}.zarr"
    shutil.copytree(stores["paths"][kind], store)
    lost, cause = FAULTS[fault][0](store, kind)
    return store, lost, cause


def _lost_mask(lost: list[Lost]) -> np.ndarray:
    m = np.zeros(SHAPE, dtype=bool)
    for x in lost:
        m[x.region] = True
    return m


def _check_error_names(text: str, lost: list[Lost], cause: str, python: bool = False) -> None:
    assert "variable 't'" in text, text
    assert any(f"chunk {x.key} ({x.path})" in text for x in lost), text
    if not (python and cause == "CorruptData"):  # Python says that with the exception's class
        assert cause in text, text


# --- the outcomes -----------------------------------------------------------------------------

@pytest.mark.parametrize("kind,fault", CASES)
def test_fault_fails_clearly_and_skip_excludes_exactly_the_lost_chunks(cli, stores, tmp_path,
                                                                         kind, fault):
    store, lost, cause = _damaged(stores, kind, fault, tmp_path)
    values = stores["values"]

    # Default: exit 1, nothing on stdout, a message naming variable, chunk, file and cause.
    for io in ("uring", "posix"):
        r = cli.run("stats", store, "--var", "t", "--json", "--io", io, check=False)
        assert r.returncode == 1 and r.stdout == "", (r.returncode, r.stdout)
        _check_error_names(r.stderr, lost, cause)

    # --on-error skip: everything else is summarised; numpy over the chunks not skipped.
    lost_mask = _lost_mask(lost)
    # (time=5:7 needs half of the lost chunk: for RAW, read in part.)
    for isel, sl in [([], np.s_[:, :, :]),
                     (["--isel", "x=1:6", "--isel", "time=2:11"], np.s_[2:11, :, 1:6]),
                     (["--isel", "time=5:7", "--isel", "y=6:9"], np.s_[5:7, 6:9, :])]:
        got = cli.json("stats", store, "--var", "t", "--quiet", "--on-error", "skip", *isel)
        v = got["variables"]["t"]
        sel_values, sel_lost = values[sl], lost_mask[sl]
        sd.check_stats(v, sd.reference(sel_values[~sel_lost]))
        # (With --on-error skip both keys are there, also when nothing was skipped.)
        assert v["skipped_elements"] == int(sel_lost.sum())
        hit = [x for x in lost if _lost_mask([x])[sl].any()]
        assert len(v["skipped_chunks"]) == len(hit), v["skipped_chunks"]
        for x, message in zip(hit, v["skipped_chunks"]):  # in chunk order
            assert f"chunk {x.key} ({x.path})" in message and cause in message, message


@pytest.mark.parametrize("kind,fault", [("v2", "bit_flip"), ("v3_sharded", "index_checksum"),
                                        ("v3_sharded", "index_outside")])
def test_skip_over_time_matches_numpy(stores, tmp_path, kind, fault):
    store, lost, cause = _damaged(stores, kind, fault, tmp_path)
    with pytest.raises(lsio.errors.CorruptDataError) as e:
        lsio.stats(store, var="t", over="time")
    _check_error_names(str(e.value), lost, cause, python=True)
    ds = lsio.stats(store, var="t", over="time", on_error="skip", isel={"y": slice(2, 10)},
                    stats=["count", "min", "max", "mean", "std"])
    ref = stores["values"].copy()
    ref[_lost_mask(lost)] = np.nan
    ref = ref[:, 2:10, :]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN cells
        np.testing.assert_array_equal(ds["t_count"].values, (~np.isnan(ref)).sum(axis=0))
        np.testing.assert_array_equal(ds["t_min"].values, np.nanmin(ref, axis=0))
        np.testing.assert_array_equal(ds["t_max"].values, np.nanmax(ref, axis=0))
        np.testing.assert_allclose(ds["t_mean"].values, np.nanmean(ref, axis=0), rtol=1e-12)
        np.testing.assert_allclose(ds["t_std"].values, np.nanstd(ref, axis=0), rtol=1e-9)
    skipped = json.loads(ds.attrs["skipped_chunks"])["t"]
    hit = [x for x in lost if _lost_mask([x])[:, 2:10, :].any()]
    assert len(skipped) == len(hit)
    assert json.loads(ds.attrs["skipped_elements"]) == {
        "t": int(_lost_mask(lost)[:, 2:10, :].sum())}


def test_skip_over_time_written_as_zarr_keeps_the_skipped_chunks(cli, stores, tmp_path):
    # --out: the maps equal numpy's without the lost elements, and the group's attributes say
    # what was left out (a file read later must not look complete).
    store, lost, cause = _damaged(stores, "v3_sharded", "index_outside", tmp_path)
    out = tmp_path / "map.zarr"
    cli.run("stats", store, "--var", "t", "--over", "time", "--on-error", "skip", "--quiet",
            "--stats", "count,mean", "--out", out)
    res = xr.open_zarr(out)
    ref = stores["values"].copy()
    ref[_lost_mask(lost)] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        np.testing.assert_array_equal(res["t_count"].values, (~np.isnan(ref)).sum(axis=0))
        np.testing.assert_allclose(res["t_mean"].values, np.nanmean(ref, axis=0), rtol=1e-12)
    assert len(res.attrs["skipped_chunks"]["t"]) == 1
    assert f"chunk {lost[0].key} ({lost[0].path})" in res.attrs["skipped_chunks"]["t"][0]
    assert res.attrs["skipped_elements"] == {"t": int(_lost_mask(lost).sum())}
    # Nothing lost: the attributes say so.
    clean = tmp_path / "clean.zarr"
    cli.run("stats", stores["paths"]["v3"], "--var", "t", "--over", "time", "--on-error",
            "skip", "--quiet", "--out", clean)
    assert xr.open_zarr(clean).attrs["skipped_chunks"] == {"t": []}
    ds = lsio.stats(stores["paths"]["v3"], var="t", on_error="skip")
    assert json.loads(ds.attrs["skipped_elements"]) == {"t": 0}


def test_skip_with_histogram_reports_each_chunk_once(cli, stores, tmp_path):
    # The histogram's second pass meets the damaged chunk again: it is still one chunk.
    store, lost, _ = _damaged(stores, "v2", "truncated", tmp_path)
    got = cli.json("stats", store, "--var", "t", "--quiet", "--on-error", "skip",
                   "--stats", "count,hist:7")
    v = got["variables"]["t"]
    assert len(v["skipped_chunks"]) == 1 and v["skipped_elements"] == 4 * 5 * 4
    keep = stores["values"][~_lost_mask(lost)]
    counts, _ = np.histogram(keep[~np.isnan(keep)], bins=7)
    assert v["histogram"]["counts"] == counts.tolist()


def test_several_lost_chunks_across_shards_and_threads(cli, stores, tmp_path):
    # Damage in two shards at once; any thread count and backend reports the same.
    store = tmp_path / "two.zarr"
    shutil.copytree(stores["paths"]["v3_sharded"], store)
    lost_a, _ = _fault_index_checksum(store, "v3_sharded")
    f = _file(store, "v3_sharded", (1, 0, 1))
    f.write_bytes(f.read_bytes()[:7])
    lost = lost_a + _inner_chunks("v3_sharded", store, (1, 0, 1))
    want = sd.reference(stores["values"][~_lost_mask(lost)])
    answers = []
    for args in (["--threads", "1", "--io", "posix"], ["--threads", "2", "--io", "uring"],
                 ["--threads", "2", "--max-memory", "1MiB"]):
        got = cli.json("stats", store, "--var", "t", "--quiet", "--on-error", "skip", *args)
        v = got["variables"]["t"]
        sd.check_stats(v, want)
        assert v["skipped_elements"] == int(_lost_mask(lost).sum())
        assert len(v["skipped_chunks"]) == len(lost) == 8 + 2
        answers.append(v)
    assert answers[0] == answers[1] == answers[2]


def test_deleted_chunk_is_the_fill_value(cli, stores, tmp_path):
    # A missing chunk is not an error in Zarr: it is the fill value (NaN here).
    for kind in KINDS:
        store = tmp_path / f"{kind}.zarr"
        shutil.copytree(stores["paths"][kind], store)
        grid = SHARD if kind == "v3_sharded" else CHUNK
        _file(store, kind, grid).unlink()
        ref = stores["values"].copy()
        ref[_region(grid, SHARDS if kind == "v3_sharded" else CHUNKS)] = np.nan
        got = cli.json("stats", store, "--var", "t", "--quiet")
        sd.check_stats(got["variables"]["t"], sd.reference(ref))
        assert got["missing_chunks"] == 1


# --- unreadable files (as a user without the permission) --------------------------------------

def _setpriv() -> list[str]:
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")
    if os.geteuid() != 0:
        pytest.skip("dropping to 'nobody' needs root; as a non-root user chmod 000 applies "
                    "to the test's own files only if the user is not their owner")
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


@pytest.mark.parametrize("kind", KINDS)
def test_unreadable_chunk_as_another_user(lsio_bin, stores, kind):
    setpriv = _setpriv()
    top = Path(tempfile.mkdtemp(prefix="lsio-perm-", dir="/tmp"))
    try:
        os.chmod(top, 0o755)  # nobody can reach the store, but not read the one chunk
        store = top / "s.zarr"
        shutil.copytree(stores["paths"][kind], store)
        lost = _target(store, kind)
        os.chmod(lost[0].path, 0)
        run = lambda *a: subprocess.run([*setpriv, str(lsio_bin), "stats", str(store),  # noqa
                                         "--var", "t", "--quiet", *a], capture_output=True,
                                        text=True, timeout=120)
        for io in ("uring", "posix"):
            r = run("--json", "--io", io)
            assert r.returncode == 1 and r.stdout == "", r
            _check_error_names(r.stderr, lost, "Permission denied")
        r = run("--json", "--on-error", "skip")
        assert r.returncode == 0, r.stderr
        v = json.loads(r.stdout)["variables"]["t"]
        sd.check_stats(v, sd.reference(stores["values"][~_lost_mask(lost)]))
        assert len(v["skipped_chunks"]) == len(lost)
        assert all("Permission denied" in m for m in v["skipped_chunks"])
    finally:
        shutil.rmtree(top)


# --- files that vanish while a scan runs ------------------------------------------------------

def test_chunks_deleted_during_a_scan_read_as_fill(tmp_path, monkeypatch):
    """lsio enumerates chunks from the metadata, not from a directory listing, and opens each
    when it reads it: a chunk deleted before it is opened is a missing chunk (the fill value),
    exactly as for a chunk never written; one already opened is read whole (Linux keeps an
    unlinked file's data until it is closed). Either way the answer is the statistics of the
    chunks as lsio found them, never a mixture inside one chunk, and missing_chunks says how
    many were gone."""
    # 240 chunks of 64 KiB, bz2 (slow to decode: the scan takes a good fraction of a second
    # on one thread), all holding the same bytes, written by hand so that the set-up is quick.
    nchunks, chunk = 240, (1, 64, 128)
    p = tmp_path / "scan.zarr"
    (p / "t").mkdir(parents=True)
    (p / ".zgroup").write_text('{"zarr_format": 2}')
    (p / "t" / ".zarray").write_text(json.dumps({
        "zarr_format": 2, "shape": [nchunks, 64, 128], "chunks": list(chunk), "dtype": "<f8",
        "compressor": {"id": "bz2", "level": 1}, "filters": None, "fill_value": "NaN",
        "order": "C"}))
    block = np.random.default_rng(5).standard_normal(chunk)
    encoded = numcodecs.BZ2(level=1).encode(block.tobytes())
    for i in range(nchunks):
        (p / "t" / f"{i}.0.0").write_bytes(encoded)
    deleted: list[int] = []

    class Trigger:  # stands in for tqdm: deletes the second half once 10% is done
        def __init__(self, *a, **k):
            self.total, self.n = 0, 0

        def reset(self, total):
            self.total = total

        def set_postfix_str(self, *a, **k):
            pass

        def refresh(self):
            if not deleted and self.total and self.total // 10 <= self.n < self.total // 2:
                for i in range(nchunks - 1, nchunks // 2 - 1, -1):
                    (p / "t" / f"{i}.0.0").unlink()
                    deleted.append(i)

        def close(self):
            pass

    import tqdm.auto
    monkeypatch.setattr(tqdm.auto, "tqdm", Trigger)
    ds = lsio.stats(p, var="t", progress=True, threads=1, max_memory="4MiB", io="posix")
    if not deleted:
        pytest.skip("the scan ended before the progress callback could delete anything")
    missing = int(ds.attrs["missing_chunks"])
    assert 0 < missing <= len(deleted)
    per_chunk = block.size
    assert int(ds["t_nan_count"]) == missing * per_chunk
    assert int(ds["t_count"]) == (nchunks - missing) * per_chunk
    # Every chunk that was read holds `block`: whatever the mix, these are block's.
    assert float(ds["t_min"]) == block.min() and float(ds["t_max"]) == block.max()
    np.testing.assert_allclose(float(ds["t_mean"]), block.mean(), rtol=1e-12)
    np.testing.assert_allclose(float(ds["t_std"]), block.std(), rtol=1e-9)


# --- absurd metadata, keys that leave the store -----------------------------------------------

# Runs argv[2:] and writes its peak RSS (KiB) to argv[1]. A child's ru_maxrss includes the
# resident size of the process it was forked from (Linux carries it across exec), so the
# command is started from this small interpreter rather than from pytest's large one.
_RSS_LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
open(sys.argv[1], "w").write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def _run_rss(cmd: list[str]) -> tuple[int, str, str, int]:
    """Runs `cmd`; returns (exit code, stdout, stderr, its peak RSS in bytes)."""
    with tempfile.NamedTemporaryFile("r") as rss:
        proc = subprocess.run([sys.executable, "-S", "-c", _RSS_LAUNCHER, rss.name, *cmd],
                              capture_output=True, text=True, timeout=120)
        return proc.returncode, proc.stdout, proc.stderr, int(rss.read()) * 1024


V2 = {"zarr_format": 2, "dtype": "<f8", "compressor": None, "fill_value": 0, "order": "C",
      "filters": None}


def _v3(shape, chunks, data_type="float64", codecs=None, fill=0):
    return {"zarr_format": 3, "node_type": "array", "shape": shape, "data_type": data_type,
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": chunks}},
            "chunk_key_encoding": {"name": "default"}, "fill_value": fill,
            "codecs": codecs or [{"name": "bytes", "configuration": {"endian": "little"}}]}


def _sharded(shard, inner):
    return [{"name": "sharding_indexed", "configuration": {
        "chunk_shape": inner, "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
        "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}}]}}]


# name: (metadata document, a word of the cause)
ABSURD = {
    "shape_overflows": ({**V2, "shape": [2**40, 2**40], "chunks": [2**20, 2**20]},
                        "overflows 64 bits"),
    "shape_int64_max": ({**V2, "shape": [2**63 - 1, 2**63 - 1], "chunks": [1, 1]},
                        "overflows 64 bits"),
    "terabyte_chunk": ({**V2, "shape": [10], "chunks": [2**40]}, "exceed lsio's limit"),
    "chunk_product_overflows": ({**V2, "shape": [2**32] * 3, "chunks": [2**32] * 3},
                                "overflows 64 bits"),
    "negative_shape": ({**V2, "shape": [-5], "chunks": [1]}, "non-negative"),
    "zero_chunk": ({**V2, "shape": [10], "chunks": [0]}, "positive"),
    "rank_mismatch": ({**V2, "shape": [10, 10], "chunks": [5]}, "rank 1 differs"),
    # A terabyte per element: lsio used to allocate the fill value and die of bad_alloc.
    "terabyte_element_v2": ({**V2, "dtype": "|S1099511627776", "fill_value": None,
                             "shape": [4], "chunks": [2]}, "per element"),
    "terabyte_element_v3": (_v3([4], [2], {"name": "raw_bytes",
                                           "configuration": {"length_bytes": 2**40}}, fill="AA=="),
                            "per element"),
    "v3_terabyte_chunk": (_v3([10], [2**40]), "exceed lsio's limit"),
    "v3_shard_index_overflows": (_v3([2**62], [2**62], "uint8", _sharded([2**62], [1])),
                                 "shard index size overflows"),
    "v3_terabyte_inner_chunk": (_v3([8], [2**37], "uint8", _sharded([2**37], [2**37])),
                                "exceed lsio's limit"),
}


@pytest.mark.parametrize("name", list(ABSURD))
def test_absurd_metadata_is_refused_in_bounded_memory(lsio_bin, tmp_path, name):
    doc, cause = ABSURD[name]
    p = tmp_path / "a.zarr"
    p.mkdir()
    meta = p / (".zarray" if doc["zarr_format"] == 2 else "zarr.json")
    meta.write_text(json.dumps(doc))
    for args in (["stats", str(p), "--json"], ["info", str(p)]):
        code, out, err, rss = _run_rss([str(lsio_bin), *args])
        assert code == 1 and out == "", (args, code, out, err)
        assert f"{meta}" in err and cause in err, err
        assert rss < 100 << 20, rss
    with pytest.raises((lsio.errors.InvalidArgumentError, lsio.errors.NotSupportedError)):
        lsio.open(p)


def test_declared_chunk_larger_than_the_memory_budget(lsio_bin, tmp_path):
    # 4 GiB chunks are within the format's limits, but not within --max-memory: the run stops
    # before reading, saying how much memory it needs.
    p = tmp_path / "a.zarr"
    p.mkdir()
    (p / ".zarray").write_text(json.dumps({**V2, "shape": [2**29 * 3], "chunks": [2**29]}))
    (p / "0").write_bytes(b"\0" * 64)
    code, out, err, rss = _run_rss([str(lsio_bin), "stats", str(p), "--json"])
    assert code == 1 and out == "" and "max-memory" in err, err
    assert rss < 100 << 20


def test_sparse_terabyte_chunk_file_is_not_read(lsio_bin, stores, tmp_path):
    # A chunk file far larger than its chunk can be (a sparse 1 GiB file for a 640-byte
    # chunk) is corrupt, and lsio refuses it without reading it into memory.
    for kind in ("v2", "v3"):
        store = tmp_path / f"{kind}.zarr"
        shutil.copytree(stores["paths"][kind], store)
        f = _file(store, kind, CHUNK)
        with open(f, "r+b") as fh:
            fh.truncate(1 << 30)
        code, out, err, rss = _run_rss([str(lsio_bin), "stats", str(store), "--json",
                                        "--max-memory", "64MiB", "--var", "t"])
        assert code == 1 and out == ""
        _check_error_names(err, [Lost(_key(kind, CHUNK), f, ())], "larger than any encoding")
        assert rss < 200 << 20, rss
        code, out, err, rss = _run_rss([str(lsio_bin), "stats", str(store), "--json",
                                        "--max-memory", "64MiB", "--var", "t",
                                        "--on-error", "skip"])
        assert code == 0 and rss < 200 << 20, (err, rss)
        assert json.loads(out)["variables"]["t"]["skipped_elements"] == 80


def _consolidated_v2(p: Path, key: str, zarray: dict) -> None:
    p.mkdir()
    (p / ".zgroup").write_text('{"zarr_format": 2}')
    md = {".zgroup": {"zarr_format": 2}, f"{key}/.zarray": zarray, f"{key}/.zattrs": {}}
    (p / ".zmetadata").write_text(json.dumps({"zarr_consolidated_format": 1, "metadata": md}))


@pytest.mark.parametrize("key,cause", [("../outside", "would escape the store"),
                                       ("/tmp/outside", "would escape the store"),
                                       ("x/../../outside", "would escape the store"),
                                       ("./x", "malformed"), ("a//b", "malformed")])
def test_metadata_keys_cannot_leave_the_store(cli, stores, tmp_path, key, cause):
    # An array 'outside' next to the store that a key like "../outside" would reach.
    shutil.copytree(stores["paths"]["v2"] / "t", tmp_path / "outside")
    zarray = json.loads((tmp_path / "outside" / ".zarray").read_text())
    p = tmp_path / "store.zarr"
    _consolidated_v2(p, key, zarray)
    for cmd in ("info", "stats"):
        r = cli.run(cmd, p, check=False)
        assert r.returncode == 1 and f"key '{key}'" in r.stderr and cause in r.stderr, r.stderr
    # The same through v3's consolidated metadata.
    p3 = tmp_path / "store3.zarr"
    p3.mkdir()
    arr = json.loads((stores["paths"]["v3"] / "t" / "zarr.json").read_text())
    (p3 / "zarr.json").write_text(json.dumps({
        "zarr_format": 3, "node_type": "group", "attributes": {},
        "consolidated_metadata": {"kind": "inline", "must_understand": False,
                                  "metadata": {key: arr}}}))
    r = cli.run("stats", p3, check=False)
    assert r.returncode == 1 and f"key '{key}'" in r.stderr and cause in r.stderr, r.stderr


@pytest.mark.parametrize("fmt,field,value", [(2, "dimension_separator", "/.."),
                                             (2, "dimension_separator", "../"),
                                             (3, "chunk_key_encoding", "..")])
def test_chunk_key_separators_cannot_leave_the_store(cli, stores, tmp_path, fmt, field, value):
    src = stores["paths"]["v2" if fmt == 2 else "v3"] / "t"
    p = tmp_path / "a.zarr"
    shutil.copytree(src, p)
    meta_file = p / (".zarray" if fmt == 2 else "zarr.json")
    meta = json.loads(meta_file.read_text())
    if fmt == 2:
        meta[field] = value
    else:
        meta[field] = {"name": "default", "configuration": {"separator": value}}
    meta_file.write_text(json.dumps(meta))
    r = cli.run("stats", p, check=False)
    assert r.returncode == 1 and "separator" in r.stderr and repr(value)[1:-1] in r.stderr


def test_variable_paths_cannot_leave_the_store(cli, stores):
    for var in ("../v3.zarr/t", "/t", "t/../../v2.zarr/t"):
        r = cli.run("stats", stores["paths"]["v2"], "--var", var, check=False)
        assert r.returncode == 1 and r.stdout == "" and "not found" in r.stderr, r.stderr
        with pytest.raises(KeyError):
            lsio.open(stores["paths"]["v2"])[var]


# --- io_uring refused (seccomp in a child process) --------------------------------------------

_NR_IO_URING_SETUP = 425  # the same number on every architecture (the unified syscall table)
_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}


def _refuse_io_uring() -> None:
    """Runs in the child between fork and exec: a seccomp filter that makes io_uring_setup
    fail with EPERM (as Docker's default profile does) and allows everything else."""
    class SockFilter(ctypes.Structure):
        _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte),
                    ("k", ctypes.c_uint32)]

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]

    ld_w_abs, jeq_k, ret_k = 0x20, 0x15, 0x06
    ret_errno, ret_allow, eperm = 0x00050000, 0x7FFF0000, 1
    arch = _AUDIT_ARCH[platform.machine()]
    prog = (SockFilter * 7)(
        SockFilter(ld_w_abs, 0, 0, 4),                    # seccomp_data.arch
        SockFilter(jeq_k, 1, 0, arch),                    # other ABIs (x32, i386): allow
        SockFilter(ret_k, 0, 0, ret_allow),
        SockFilter(ld_w_abs, 0, 0, 0),                    # seccomp_data.nr
        SockFilter(jeq_k, 0, 1, _NR_IO_URING_SETUP),
        SockFilter(ret_k, 0, 0, ret_errno | eperm),
        SockFilter(ret_k, 0, 0, ret_allow),
    )
    fprog = SockFprog(len(prog), prog)
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_no_new_privs, pr_set_seccomp, seccomp_mode_filter = 38, 22, 2
    if libc.prctl(pr_set_no_new_privs, 1, 0, 0, 0) != 0:
        os._exit(90)
    if libc.prctl(pr_set_seccomp, seccomp_mode_filter, ctypes.byref(fprog), 0, 0) != 0:
        os._exit(91)


def test_io_uring_refused_by_seccomp_gives_the_same_answer_via_pread(lsio_bin, stores):
    if platform.machine() not in _AUDIT_ARCH:
        pytest.skip(f"no seccomp filter written for {platform.machine()}")
    store = stores["paths"]["v3_sharded"]
    base = [str(lsio_bin), "stats", str(store), "--json", "--quiet"]
    reference = subprocess.run(base + ["--io", "uring"], capture_output=True, text=True,
                               check=True)
    assert json.loads(reference.stdout)["io_backend"] == "io_uring"
    r = subprocess.run(base, capture_output=True, text=True, preexec_fn=_refuse_io_uring)
    assert r.returncode == 0, (r.returncode, r.stderr)
    got, want = json.loads(r.stdout), json.loads(reference.stdout)
    assert got["io_backend"] == "posix"
    assert got["variables"] == want["variables"]
    # One notice, saying why (stderr also carries nothing else with --quiet).
    notices = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(notices) == 1 and "Operation not permitted" in notices[0], r.stderr
    # Asking for io_uring explicitly is an error, not a silent fallback.
    r = subprocess.run(base + ["--io", "uring"], capture_output=True, text=True,
                       preexec_fn=_refuse_io_uring)
    assert r.returncode == 1 and r.stdout == "" and "io_uring" in r.stderr, r.stderr


# --- codecs without a checksum: damage may go unnoticed, but never crashes ---------------------

def test_bit_flips_without_checksums_never_crash(tmp_path):
    """Flipped bits in zstd, blosc, lz4 and gzip chunks that carry no checksum: each read
    either fails with CorruptDataError naming the chunk file, or decodes to some values (which
    only a checksum codec could catch); it never crashes, hangs or raises anything else."""
    rng = np.random.default_rng(11)
    values = rng.standard_normal((16, 16))
    outcomes = {"error": 0, "values": 0}
    for name, comp in [("zstd", numcodecs.Zstd(level=1)), ("lz4", numcodecs.LZ4()),
                       ("blosc", numcodecs.Blosc(cname="zstd", shuffle=numcodecs.Blosc.SHUFFLE)),
                       ("gzip", numcodecs.GZip(level=1))]:
        p = tmp_path / f"{name}.zarr"
        z = zarr.create_array(p, shape=(16, 16), chunks=(8, 8), dtype="f8", zarr_format=2,
                              compressors=[comp], fill_value=np.nan)
        z[...] = values
        clean = {f: f.read_bytes() for f in p.iterdir() if not f.name.startswith(".")}
        for trial in range(12):
            f = sorted(clean)[trial % len(clean)]
            data = bytearray(clean[f])
            for _ in range(1 + trial % 3):
                data[int(rng.integers(len(data)))] ^= 1 << int(rng.integers(8))
            f.write_bytes(bytes(data))
            try:
                ds = lsio.stats(p, stats=["count", "nan_count"])
                assert int(ds["data_count"]) + int(ds["data_nan_count"]) == 256
                got = lsio.open(p)[...]
                assert got.shape == (16, 16)
                outcomes["values"] += 1
            except lsio.errors.CorruptDataError as e:
                assert str(f) in str(e), str(e)
                outcomes["error"] += 1
            f.write_bytes(clean[f])
    assert outcomes["error"] > 0, outcomes


# --- nothing left behind ----------------------------------------------------------------------

def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _thread_names() -> list[str]:
    """Every thread of this process, by kernel name (io_uring's iou-wrk workers included)."""
    names = []
    for tid in os.listdir("/proc/self/task"):
        try:
            names.append(Path(f"/proc/self/task/{tid}/comm").read_text().strip())
        except FileNotFoundError:  # ended while listed
            pass
    return sorted(names)


def _settled_thread_names(at_most: int) -> list[str]:
    """The threads once at most `at_most` remain, or after 2 s: a thread that has been told to
    end (an io_uring worker of a closed ring, which the kernel ends on its own) may still be
    listed for a moment."""
    deadline = time.monotonic() + 2
    while len(names := _thread_names()) > at_most and time.monotonic() < deadline:
        time.sleep(0.02)
    return names


def test_errors_leave_no_descriptors_or_threads(stores, tmp_path):
    damaged = [_damaged(stores, kind, fault, tmp_path)[0] for kind, fault in CASES]
    missing_var = stores["paths"]["v2"]
    # Warm up: the CPU pool creates its threads once per process.
    lsio.stats(stores["paths"]["v3_sharded"], var="t")
    lsio.open(stores["paths"]["v3_sharded"])["t"][...]
    fds, tasks = _fds(), _thread_names()
    names = {t.name for t in threading.enumerate()}
    for _ in range(2):
        for store in damaged:
            for io in ("uring", "posix"):
                with pytest.raises(lsio.errors.Error):
                    lsio.stats(store, var="t", io=io)
            with pytest.raises(lsio.errors.Error):
                lsio.open(store)["t"][...]
            lsio.stats(store, var="t", on_error="skip")
        with pytest.raises(KeyError):
            lsio.stats(missing_var, var="nope")
    assert _fds() <= fds
    after = _settled_thread_names(len(tasks))
    assert len(after) <= len(tasks), (after, tasks)
    assert {t.name for t in threading.enumerate()} <= names
