"""`lsio rechunk` when things go wrong: SIGKILL mid-write leaves temporaries that the next run
removes (and only those), a destination that cannot be written (EACCES: read-only directories;
ENOSPC: a small tmpfs, when the test may mount one) fails with a clear error naming the file and
the cause, exit code 1, no hang, and leaves a destination that is absent or resumable. Reference:
what zarr-python reads from the source."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
import zarr

TEMP = re.compile(r"^\..+\.lsio-tmp-\d+-\d+$")  # the file store's temporaries


def _temporaries(*roots: Path) -> list[Path]:
    out = []
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            out += [Path(dirpath) / n for n in filenames + dirnames if TEMP.match(n)]
    return out


def _dead_pid() -> int:
    """A PID no process has now: a child that has exited and been reaped."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _equal_to_source(src: Path, dst: Path, var: str = "v") -> None:
    want = zarr.open_group(str(src), mode="r")[var]
    got = zarr.open_group(str(dst), mode="r")[var]
    assert got.shape == want.shape
    step = want.chunks[0] * 4
    for t in range(0, want.shape[0], step):
        assert got[t:t + step].tobytes() == want[t:t + step].tobytes(), f"rows {t}.. differ"


def _source(path: Path, shape, chunks, seed) -> Path:
    rng = np.random.default_rng(seed)
    g = zarr.open_group(str(path), mode="w", zarr_format=3)
    a = g.create_array("v", shape=shape, dtype="float32", chunks=chunks, compressors=None,
                       dimension_names=["time", "y", "x"], fill_value=0)
    for t in range(0, shape[0], chunks[0]):
        a[t:t + chunks[0]] = rng.standard_normal((chunks[0], *shape[1:])).astype("float32")
    return path


@pytest.fixture(scope="module")
def large(tmp_path_factory):
    """256 MiB of float32 in time chunks: a two-stage rechunk under a small budget, long enough
    to be killed several times with unit writes in flight."""
    return _source(tmp_path_factory.mktemp("large") / "large.zarr", (256, 512, 512),
                   (8, 512, 512), 11)


@pytest.fixture(scope="module")
def medium(tmp_path_factory):
    """32 MiB of float32 (random: it does not compress) in time chunks."""
    return _source(tmp_path_factory.mktemp("medium") / "medium.zarr", (64, 256, 512),
                   (8, 256, 512), 12)


# --- SIGKILL leaves temporaries; the next run removes them ---

def test_sigkill_leaves_temporaries_that_resume_removes(lsio_bin, large, tmp_path):
    dst = tmp_path / "dst.zarr"
    stage = tmp_path / "dst.zarr.lsio-stage"  # the intermediate's default place
    args = [str(lsio_bin), "rechunk", str(large), str(dst), "--chunks", "time=256,y=32,x=32",
            "--codec", "zstd:1", "--max-memory", "96MiB", "--quiet"]
    plan = subprocess.run([*args, "--dry-run"], capture_output=True, text=True, check=True).stdout
    assert "2 stages" in plan, plan
    rng = np.random.default_rng(3)
    kills, left_behind, done = 0, 0, False
    planted = []
    for attempt in range(4):
        proc = subprocess.Popen([*args, *(["--resume"] if attempt else [])],
                                stderr=subprocess.PIPE, text=True)
        # Let it write a while (into either stage), then kill it mid-way.
        time.sleep(float(rng.uniform(0.3, 1.5)))
        if proc.poll() is not None:
            assert proc.returncode == 0, proc.stderr.read()
            done = True
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        left_behind += len(_temporaries(dst, stage))
        if (dst / "zarr.json").exists():  # only once every unit landed (cleanup was cut)
            _equal_to_source(large, dst)
        if attempt == 0:
            # Temporaries as a killed writer leaves them (its PID gone), in both stores,
            # whatever the kills leave: the runs that follow must remove these too.
            dead = _dead_pid()
            for root in (dst, stage):
                for rel in (f".zarr.json.lsio-tmp-{dead}-0", f"v/c/.0.lsio-tmp-{dead}-5"):
                    p = root / rel
                    p.parent.mkdir(parents=True, exist_ok=True)
                    p.write_bytes(b"torn")
                    planted.append(p)
    assert kills >= 1, "the run ended before it could be killed"
    if not done:
        proc = subprocess.run([*args, "--resume"], capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
    assert not any(p.exists() for p in planted)
    assert _temporaries(dst) == []
    assert not stage.exists()
    assert not (dst / ".lsio-rechunk").exists()
    _equal_to_source(large, dst)
    print(f"{kills} kills left {left_behind} temporaries of their own")


def test_new_run_over_a_killed_start_removes_its_temporaries(cli, medium, tmp_path):
    """A run killed while writing its plan leaves only temporaries: the destination lists as
    empty, a new run (no --resume) goes ahead and removes them."""
    dst = tmp_path / "dst.zarr"
    dead = _dead_pid()
    (dst / ".lsio-rechunk").mkdir(parents=True)
    (dst / ".lsio-rechunk" / f".plan.json.lsio-tmp-{dead}-0").write_text("{")
    (dst / f".zarr.json.lsio-tmp-{dead}-1").write_text("{")
    cli.run("rechunk", medium, dst, "--chunks", "time=64,y=64,x=64", "--quiet")
    assert _temporaries(dst) == []
    _equal_to_source(medium, dst)


def test_other_files_are_not_taken_for_temporaries(cli, medium, tmp_path):
    """A destination holding anything else is refused untouched, temporaries included."""
    dst = tmp_path / "dst.zarr"
    dead = _dead_pid()
    (dst / ".lsio-rechunk").mkdir(parents=True)
    keep = [dst / ".lsio-rechunk" / "notes.txt", dst / f".x.lsio-tmp-{dead}-0"]
    for p in keep:
        p.write_text("mine")
    proc = cli.run("rechunk", medium, dst, "--chunks", "time=64", "--quiet", check=False)
    assert proc.returncode == 1 and "already exists" in proc.stderr, proc.stderr
    assert all(p.read_text() == "mine" for p in keep)


# --- EACCES ---

def _unprivileged(argv: list[str]) -> list[str]:
    """argv run so that permissions apply: root ignores them unless it drops CAP_DAC_OVERRIDE
    (and CAP_DAC_READ_SEARCH) from its bounding set."""
    if os.geteuid() != 0:
        return argv
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot make permissions apply")
    return [setpriv, "--inh-caps=-all",
            "--bounding-set=-dac_override,-dac_read_search,-fowner", "--", *argv]


def test_read_only_parent_fails_clearly_and_leaves_nothing(lsio_bin, medium, tmp_path):
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o555)
    dst = parent / "dst.zarr"
    try:
        proc = subprocess.run(_unprivileged(
            [str(lsio_bin), "rechunk", str(medium), str(dst), "--chunks", "time=64", "--quiet"]),
            capture_output=True, text=True, timeout=120)
    finally:
        parent.chmod(0o755)
    assert proc.returncode == 1, proc.stderr
    assert "Permission denied" in proc.stderr, proc.stderr
    assert str(dst) in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and "terminate" not in proc.stderr
    assert not dst.exists()


def test_read_only_destination_in_stage_two_then_resume(lsio_bin, medium, tmp_path):
    """Stage 1 writes the intermediate beside DST; stage 2 cannot write into DST (a read-only
    directory). The error names the file in DST; once DST is writable, --resume finishes from
    the intermediate without redoing stage 1."""
    dst = tmp_path / "dst.zarr"
    dst.mkdir()
    dst.chmod(0o555)
    stage = tmp_path / "dst.zarr.lsio-stage"
    args = [str(lsio_bin), "rechunk", str(medium), str(dst), "--chunks", "time=64,y=16,x=16",
            "--max-memory", "40MiB", "--quiet"]
    plan = subprocess.run([*args, "--dry-run"], capture_output=True, text=True, check=True).stdout
    assert "2 stages" in plan, plan
    try:
        proc = subprocess.run(_unprivileged(args), capture_output=True, text=True, timeout=300)
    finally:
        dst.chmod(0o755)
    assert proc.returncode == 1, proc.stderr
    assert "Permission denied" in proc.stderr, proc.stderr
    assert str(dst / ".lsio-rechunk") in proc.stderr, proc.stderr
    assert "stage 2 of 2" in proc.stderr, proc.stderr
    assert not (dst / "zarr.json").exists()
    # Stage 1 finished: its store is complete (no plan left), and is not redone.
    assert (stage / "zarr.json").exists() and not (stage / ".lsio-rechunk").exists()
    mtimes = {p: p.stat().st_mtime_ns for p in stage.rglob("*") if p.is_file()}
    proc = subprocess.run([*args, "--resume"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert not stage.exists()
    assert _temporaries(dst) == []
    _equal_to_source(medium, dst)
    assert mtimes  # (the intermediate was there to be reused)


# --- ENOSPC: a tmpfs too small for the output ---

@pytest.fixture
def small_tmpfs(tmp_path):
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / f"tmpfs-{uuid.uuid4().hex[:6]}"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_disk_full_fails_clearly_then_resumes(lsio_bin, medium, small_tmpfs):
    dst = small_tmpfs / "dst.zarr"
    args = [str(lsio_bin), "rechunk", str(medium), str(dst), "--chunks", "time=8,y=64,x=64",
            "--codec", "zstd:1", "--max-memory", "64MiB", "--quiet"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "No space left on device" in proc.stderr, proc.stderr
    assert str(dst) in proc.stderr, proc.stderr
    assert not (dst / "zarr.json").exists()
    assert _temporaries(dst) == []  # a failed write removes its temporary
    # With room again, --resume finishes the job.
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_tmpfs)], check=True)
    proc = subprocess.run([*args, "--resume"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert _temporaries(dst) == []
    _equal_to_source(medium, dst)


def test_disk_full_from_the_start_then_resume(lsio_bin, medium, small_tmpfs):
    """A disk already full: the plan itself cannot be written. The error is as clear, and
    --resume after freeing space starts the job over what the failed start left."""
    dst = small_tmpfs / "dst.zarr"
    filler = small_tmpfs / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 4096) > 0:
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    args = [str(lsio_bin), "rechunk", str(medium), str(dst), "--chunks", "time=64",
            "--quiet"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "No space left on device" in proc.stderr, proc.stderr
    assert not (dst / "zarr.json").exists()
    filler.unlink()
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_tmpfs)], check=True)
    proc = subprocess.run([*args, "--resume"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert _temporaries(dst) == []
    _equal_to_source(medium, dst)


def test_resume_of_a_finished_two_stage_run_is_refused_at_once(cli, medium, tmp_path):
    dst = tmp_path / "dst.zarr"
    args = ["rechunk", medium, dst, "--chunks", "time=64,y=16,x=16", "--max-memory", "40MiB",
            "--quiet"]
    cli.run(*args)
    before = {p: p.stat().st_mtime_ns for p in dst.rglob("*")}
    proc = cli.run(*args, "--resume", check=False)
    assert proc.returncode == 1
    assert "already exists and is not an interrupted rechunk" in proc.stderr, proc.stderr
    assert not (tmp_path / "dst.zarr.lsio-stage").exists()  # stage 1 was not redone
    assert {p: p.stat().st_mtime_ns for p in dst.rglob("*")} == before


# --- EIO: a device error on one unit's write ---

# Fails pwrite() with EIO for files whose path contains $LSIO_TEST_EIO_PATH (the posix IO
# backend, LSIO_IO=posix, writes with pwrite): a device error from outside the process, without
# a test hook in lsio itself.
_EIO_SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failing(int fd) {
  const char* want = getenv("LSIO_TEST_EIO_PATH");
  if (want == NULL || *want == '\0') return 0;
  char link[64], path[4096];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, path, sizeof path - 1);
  if (n <= 0) return 0;
  path[n] = '\0';
  return strstr(path, want) != NULL;
}

typedef ssize_t (*pwrite_fn)(int, const void*, size_t, off_t);

ssize_t pwrite64(int fd, const void* buf, size_t count, off_t offset) {
  static pwrite_fn real;
  if (real == NULL) real = (pwrite_fn)dlsym(RTLD_NEXT, "pwrite64");
  if (failing(fd)) {
    errno = EIO;
    return -1;
  }
  return real(fd, buf, count, offset);
}

ssize_t pwrite(int fd, const void* buf, size_t count, off_t offset) {
  static pwrite_fn real;
  if (real == NULL) real = (pwrite_fn)dlsym(RTLD_NEXT, "pwrite");
  if (failing(fd)) {
    errno = EIO;
    return -1;
  }
  return real(fd, buf, count, offset);
}
"""


@pytest.fixture(scope="module")
def eio_shim(tmp_path_factory):
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler to build the EIO preload shim")
    d = tmp_path_factory.mktemp("eio")
    (d / "eio.c").write_text(_EIO_SHIM)
    so = d / "eio.so"
    subprocess.run([cc, "-shared", "-fPIC", "-O1", "-o", str(so), str(d / "eio.c"), "-ldl"],
                   check=True, capture_output=True)
    return so


@pytest.mark.parametrize("stages", [1, 2])
def test_eio_on_a_unit_write_fails_clearly_then_resumes(lsio_bin, medium, tmp_path, eio_shim,
                                                        stages):
    """One unit's file cannot be written (EIO from the device, every attempt): the run names
    the unit, its file and the cause, exits 1, and leaves DST that does not open as a dataset
    and that --resume finishes (once the device works) to a copy equal to the source, without
    rewriting the units that had landed."""
    dst = tmp_path / "dst.zarr"
    args = [str(lsio_bin), "rechunk", str(medium), str(dst), "--chunks", "time=64,y=16,x=16",
            "--codec", "blosc:zstd:1:shuffle", "--quiet"]
    args += ["--max-memory", "40MiB"] if stages == 2 else ["--max-memory", "256MiB"]
    plan = subprocess.run([*args, "--dry-run"], capture_output=True, text=True, check=True).stdout
    assert f"{stages} stage" in plan, plan
    env = dict(os.environ, LSIO_IO="posix", LD_PRELOAD=str(eio_shim),
               LSIO_TEST_EIO_PATH=f"{dst.name}/v/c/0/5/")  # units (0, 5, *) of DST
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 1, proc.stderr
    assert "Input/output error" in proc.stderr, proc.stderr
    assert str(dst / "v" / "c" / "0" / "5") in proc.stderr, proc.stderr
    assert "writing unit v/c/0/5/" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and "terminate" not in proc.stderr
    assert not (dst / "zarr.json").exists()
    assert (dst / ".lsio-rechunk" / "plan.json").exists()
    assert _temporaries(dst) == []  # the failed write removed its temporary
    landed = {p: p.stat().st_ino for p in (dst / "v" / "c").rglob("*") if p.is_file()}
    proc = subprocess.run([*args, "--resume"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert _temporaries(dst) == []
    assert not (dst / ".lsio-rechunk").exists()
    assert not (tmp_path / "dst.zarr.lsio-stage").exists()
    _equal_to_source(medium, dst)
    # Units that landed before the failure were journaled (the writer drains and the journal is
    # flushed before the error is returned), so none is rewritten (a rewrite renames a new
    # inode in).
    assert landed
    rewritten = [p for p, ino in landed.items() if p.stat().st_ino != ino]
    assert rewritten == [], (len(rewritten), len(landed))
