#!/usr/bin/env python3
"""Rechunk benchmark: `lsio rechunk` against its peers on one dataset, in one run:

  dask       da.from_zarr(...).rechunk(...).to_zarr (threaded scheduler, `--threads` workers)
  dask-p2p   the same with dask's peer-to-peer rechunk (array.rechunk.method="p2p") on a
             distributed LocalCluster of one in-process worker with `--threads` threads and
             memory_limit = --max-memory, staging under DST.p2p-work
  cubed      cubed.from_zarr(...).rechunk(...) + cubed.to_zarr, allowed_mem = --max-memory
  rechunker  pangeo rechunker (rechunker.rechunk(..., max_mem=--max-memory) executed with dask's
             threaded scheduler), run from bench/.venv-rechunker (zarr-python 2, which
             rechunker needs): bench/rechunk/make-venv makes it; when it cannot, the peer is
             skipped with that message. It reads Zarr v2 only: with a v3 source it is skipped.
  fio        (--fio) the disk limit: fio reading the source's chunk files, and fio writing as
             many bytes as lsio's output holds, in files of its unit size, on the same disk.

The source is --source (a Zarr store holding `--var`, e.g. bench/make_dataset.py's dataset 2:
Zarr v2, 8x512x512 blosc-zstd chunks), or a generated float32 (T, Y, X) array in time chunks
(--shape, Zarr v3, blosc zstd:5 shuffle). It is rechunked to --dst-chunks (default T x 32 x 32),
every output written with blosc(zstd, --clevel, shuffle) where the side lets one choose.
The peers leave blosc's block size to c-blosc (32 KiB for zstd at level 1) unless
--blocksize says otherwise; lsio writes 256 KiB blocks for zstd at levels 1-3 (see
src/codec/blosc_codec.cc): --blocksize=262144 has every side write the same frames.

Each side runs in its own process, with the page cache dropped before it (`sync; echo 3 >
/proc/sys/vm/drop_caches`, when this process may: else the cache is warmed for all alike, and
the table says so). Its peak RSS is that process's ru_maxrss (os.wait4, its waited-for children
included), its bytes read and written the block IO the kernel charged to it (ru_inblock,
ru_oublock x 512: with the cache dropped, what came from the disk), its time the wall time of
the process. Every output is checked equal to the input (bit for bit) with zarr-python. Ratios
are against lsio in the same run.

    .venv/bin/python bench/rechunk/run.py --source data/bench/2q.zarr --max-memory 256MiB
    .venv/bin/python bench/rechunk/run.py --shape=256,512,512 --dst-chunks=-1,32,32
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def parse_size(text: str) -> int:
    t = text.strip().lower().replace("ib", "").replace("b", "")
    scale = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}.get(t[-1:], 1)
    return int(float(t.rstrip("kmg")) * scale)


def make_dataset(path: str, shape, chunks) -> None:
    import numpy as np
    import zarr
    from zarr.codecs import BloscCodec, BloscShuffle

    if os.path.exists(os.path.join(path, "zarr.json")):
        return
    shutil.rmtree(path, ignore_errors=True)
    g = zarr.open_group(path, mode="w", zarr_format=3)
    a = g.create_array("t2m", shape=shape, dtype="float32", chunks=chunks, fill_value=float("nan"),
                       dimension_names=["time", "y", "x"],
                       compressors=[BloscCodec(cname="zstd", clevel=5,
                                               shuffle=BloscShuffle.shuffle)])
    a.attrs["units"] = "K"
    rng = np.random.default_rng(0)
    y = np.linspace(0, 3, shape[1], dtype="float32")[:, None]
    x = np.linspace(0, 5, shape[2], dtype="float32")[None, :]
    base = 280 + 10 * np.sin(y) * np.cos(x)
    for t0 in range(0, shape[0], chunks[0]):
        n = min(chunks[0], shape[0] - t0)
        a[t0:t0 + n] = (base[None] + rng.standard_normal((n, shape[1], shape[2]))
                        .astype("float32"))


# --- the sides, each run as `run.py --side NAME ...` in its own process ---

# Sharded v3 output (--shards, set in the side's process): dask writes shards as its chunks.
SHARDS = None
BLOCKSIZE = 0  # --blocksize: the peers' blosc block size (0: c-blosc's choice)


def _dask_to_zarr(arr, src, dst, chunks, var, clevel):
    import dask.array as da
    import zarr
    from zarr.codecs import BloscCodec, BloscShuffle

    compressors = [BloscCodec(cname="zstd", clevel=clevel, shuffle=BloscShuffle.shuffle,
                              blocksize=BLOCKSIZE)]
    if SHARDS is None:
        arr.rechunk(chunks).to_zarr(dst, component=var, overwrite=True, compressors=compressors)
        return
    # A sharded array is written one whole shard per task (the dask chunks are the shards: a
    # partial shard write would be a read-modify-write of the shard).
    z = zarr.create_array(store=dst, name=var, shape=arr.shape, dtype=arr.dtype, chunks=chunks,
                          shards=SHARDS, compressors=compressors, zarr_format=3,
                          fill_value=zarr.open_group(src, mode="r")[var].fill_value,
                          overwrite=True)
    da.to_zarr(arr.rechunk(SHARDS), z)


def side_dask(src, dst, chunks, max_mem, threads, var, clevel):
    import dask
    import dask.array as da

    with dask.config.set(scheduler="threads", num_workers=threads):
        arr = da.from_zarr(src, component=var)
        _dask_to_zarr(arr, src, dst, chunks, var, clevel)


def side_dask_p2p(src, dst, chunks, max_mem, threads, var, clevel):
    # dask's peer-to-peer rechunk (distributed's shuffle service: workers exchange the pieces
    # and stage them on disk). In-process workers (one worker, `threads` threads, memory_limit
    # = max_mem, spilling and staging under DST.p2p-work on the output's disk), so that the
    # side's peak RSS is one process's, comparable with the others; in-process workers talk
    # over distributed's inproc:// transport, no socket.
    import dask
    import dask.array as da
    from distributed import Client, LocalCluster

    work = dst + ".p2p-work"
    os.makedirs(work, exist_ok=True)
    with LocalCluster(n_workers=1, threads_per_worker=threads, processes=False,
                      memory_limit=max_mem, dashboard_address=None,
                      local_directory=work) as cluster, Client(cluster):
        with dask.config.set({"array.rechunk.method": "p2p"}):
            arr = da.from_zarr(src, component=var)
            _dask_to_zarr(arr, src, dst, chunks, var, clevel)
    shutil.rmtree(work, ignore_errors=True)


def side_cubed(src, dst, chunks, max_mem, threads, var, clevel):
    import cubed

    work = dst + ".cubed-work"
    spec = cubed.Spec(work_dir=work, allowed_mem=max_mem)
    arr = cubed.from_zarr(src, path=var, spec=spec)
    cubed.to_zarr(arr.rechunk(chunks), dst, path=var, executor=_cubed_executor(threads))
    shutil.rmtree(work, ignore_errors=True)


def side_rechunker(src, dst, chunks, max_mem, threads, var, clevel):
    # Runs in bench/.venv-rechunker (zarr-python 2).
    import dask
    import numcodecs
    import zarr
    from rechunker import rechunk

    source = zarr.open_group(src, mode="r")[var]
    tmp = dst + ".rechunker-tmp"
    compressor = numcodecs.Blosc(cname="zstd", clevel=clevel, shuffle=numcodecs.Blosc.SHUFFLE,
                                 blocksize=BLOCKSIZE)
    plan = rechunk(source, target_chunks=chunks, max_mem=max_mem, target_store=dst,
                   temp_store=tmp, target_options={"compressor": compressor},
                   temp_options={"compressor": compressor})
    with dask.config.set(scheduler="threads", num_workers=threads):
        plan.execute()
    shutil.rmtree(tmp, ignore_errors=True)


def _cubed_executor(threads):
    from cubed.runtime.executors.local import ThreadsExecutor

    return ThreadsExecutor(max_workers=threads)


SIDES = {"dask": side_dask, "dask-p2p": side_dask_p2p, "cubed": side_cubed,
         "rechunker": side_rechunker}


# A lean launcher measures the side: a child's ru_maxrss starts from its parent's resident size
# at fork (kept across exec), so the side must not be forked from this process, which holds
# numpy, zarr and page-cache reads.
# argv: the time limit in seconds, then the side's command; a side still running at the limit
# is killed (a dask worker paused at its memory limit never finishes) and reported so.
LAUNCHER = """
import os, sys, json, time, signal
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
signal.signal(signal.SIGALRM, lambda *_: os.kill(pid, signal.SIGKILL))
signal.alarm(int(sys.argv[1]))
while True:
    try:
        _, status, ru = os.wait4(pid, 0)
        break
    except InterruptedError:
        continue
if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
    print(f"killed after the time limit of {sys.argv[1]} s", file=sys.stderr)
print(json.dumps({"code": os.waitstatus_to_exitcode(status), "seconds": time.perf_counter() - start,
                  "peak_rss": ru.ru_maxrss * 1024, "cpu_seconds": ru.ru_utime + ru.ru_stime,
                  "bytes_read": ru.ru_inblock * 512, "bytes_written": ru.ru_oublock * 512}),
      file=sys.stderr)
"""


def drop_caches() -> bool:
    """sync; echo 3 > /proc/sys/vm/drop_caches. False when this process may not."""
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


RECHUNKER_VENV = os.path.join(ROOT, "bench", ".venv-rechunker")


def rechunker_python() -> tuple[str | None, str]:
    """The rechunker venv's python (made by make-venv if needed), or None and why not."""
    proc = subprocess.run([os.path.join(ROOT, "bench", "rechunk", "make-venv")],
                          capture_output=True, text=True)
    py = os.path.join(RECHUNKER_VENV, "bin", "python")
    if proc.returncode != 0 or not os.path.exists(py):
        return None, (proc.stderr.strip().splitlines() or ["make-venv failed"])[-1]
    return py, ""


def _fio_json(stdout: str) -> dict:
    return json.loads(stdout[stdout.index("{"):])  # fio may print notes before its JSON


def fio_disk_limit(src_array: str, out_bytes: int, unit_bytes: int, work: str) -> dict:
    """fio sequential reads of the source array's chunk files (--opendir, 1 MiB blocks, O_DIRECT,
    io_uring, queue depth 16; the tail of each file under 1 MiB is skipped, so the rate is what
    counts), and sequential writes of `out_bytes` in files of about `unit_bytes` on the disk of
    `work`: bytes per second each (fio's bw), the page cache dropped before each."""
    out = {}
    drop_caches()
    read = subprocess.run(["fio", "--name=read", "--rw=read", "--bs=1M", "--direct=1",
                           "--ioengine=io_uring", "--iodepth=16", "--thread", "--group_reporting",
                           "--output-format=json", f"--opendir={src_array}"],
                          capture_output=True, text=True)
    if read.returncode == 0:
        j = _fio_json(read.stdout)["jobs"][0]["read"]
        out["read_gb_per_s"] = j["bw_bytes"] / 1e9
        out["read_bytes"] = j["io_bytes"]
    else:
        out["read_error"] = read.stderr.strip()[-300:]
    wdir = os.path.join(work, "fio-write")
    os.makedirs(wdir, exist_ok=True)
    nfiles = max(1, min(4096, out_bytes // max(unit_bytes, 1)))
    drop_caches()
    write = subprocess.run(["fio", "--name=write", "--rw=write", "--bs=1M", "--direct=1",
                            "--ioengine=io_uring", "--iodepth=16", "--output-format=json",
                            f"--directory={wdir}", f"--nrfiles={nfiles}",
                            f"--size={max(out_bytes, nfiles << 20)}", "--end_fsync=1"],
                           capture_output=True, text=True)
    if write.returncode == 0:
        j = _fio_json(write.stdout)["jobs"][0]["write"]
        out["write_gb_per_s"] = j["bw_bytes"] / 1e9
        out["write_bytes"] = j["io_bytes"]
    else:
        out["write_error"] = write.stderr.strip()[-300:]
    shutil.rmtree(wdir, ignore_errors=True)
    return out


SIDE_TIMEOUT = 300  # seconds; --side-timeout (the slowest finishing peer took 57 s on 4 GiB)


def run_process(argv) -> dict:
    proc = subprocess.run([sys.executable, "-S", "-c", LAUNCHER, str(SIDE_TIMEOUT), *argv],
                          capture_output=True, text=True)
    lines = proc.stderr.strip().splitlines()
    m = json.loads(lines[-1])
    err = "\n".join(lines[:-1]) or proc.stdout
    return {"ok": m["code"] == 0, "seconds": m["seconds"], "peak_rss": m["peak_rss"],
            "cpu_seconds": m["cpu_seconds"], "bytes_read": m["bytes_read"],
            "bytes_written": m["bytes_written"],
            "error": None if m["code"] == 0 else err.strip()[-800:]}


def check_equal(src: str, dst: str, path: str, var: str) -> str:
    import numpy as np
    import zarr

    a = zarr.open_group(src, mode="r")[var]
    try:
        b = zarr.open(dst, mode="r")
        b = b[path] if path else b
    except Exception as e:  # a peer's output zarr-python cannot open
        return f"cannot open: {e}"
    step = a.chunks[0] * 8
    for t in range(0, a.shape[0], step):
        x, y = a[t:t + step], b[t:t + step]
        if x.tobytes() != np.asarray(y).tobytes():
            return "DIFFERENT"
    return "identical"


def main() -> int:
    global SIDE_TIMEOUT
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lsio", default=os.path.join(ROOT, "build", "bin", "lsio"))
    ap.add_argument("--data", default=os.path.join(ROOT, "data", "bench-rechunk"))
    ap.add_argument("--source", help="an existing Zarr store (else one is generated)")
    ap.add_argument("--var", default="t2m")
    ap.add_argument("--shape", default="256,512,512")
    ap.add_argument("--src-chunks", default="8,-1,-1")
    ap.add_argument("--dst-chunks", default="-1,32,32")
    ap.add_argument("--shards", help="a sharded v3 output with these shards (T,Y,X; lsio and "
                    "dask: rechunker and Cubed cannot write shards)")
    ap.add_argument("--clevel", type=int, default=1)
    ap.add_argument("--blocksize", type=int, default=0,
                    help="the peers' blosc block size in bytes (0: c-blosc's choice)")
    ap.add_argument("--max-memory", default="256MiB")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--peers", default="dask,dask-p2p,cubed,rechunker")
    ap.add_argument("--fio", action="store_true", help="measure the disk limit with fio")
    ap.add_argument("--side-timeout", type=int, default=SIDE_TIMEOUT,
                    help="seconds after which a side is killed and reported as failed")
    ap.add_argument("--markdown")
    ap.add_argument("--json")
    ap.add_argument("--side", help=argparse.SUPPRESS)
    ap.add_argument("--src", help=argparse.SUPPRESS)
    ap.add_argument("--dst", help=argparse.SUPPRESS)
    args = ap.parse_args()
    SIDE_TIMEOUT = args.side_timeout

    max_mem = parse_size(args.max_memory)
    if args.side:
        global SHARDS, BLOCKSIZE
        BLOCKSIZE = args.blocksize
        chunks = tuple(int(c) for c in args.dst_chunks.split(","))
        if args.shards:
            SHARDS = tuple(int(c) for c in args.shards.split(","))
        SIDES[args.side](args.src, args.dst, chunks, max_mem, args.threads, args.var, args.clevel)
        return 0

    import zarr

    os.makedirs(args.data, exist_ok=True)
    if args.source:
        src = os.path.abspath(args.source)
    else:
        shape = [int(x) for x in args.shape.split(",")]
        src_chunks = [s if int(c) == -1 else int(c)
                      for c, s in zip(args.src_chunks.split(","), shape)]
        src = os.path.join(args.data, "src_{}.zarr".format("x".join(map(str, shape))))
        make_dataset(src, shape, src_chunks)
    a = zarr.open_group(src, mode="r")[args.var]
    shape, src_chunks, v2 = list(a.shape), list(a.chunks), a.metadata.zarr_format == 2
    dims = list(a.metadata.dimension_names or []) if not v2 else \
        list(a.attrs.get("_ARRAY_DIMENSIONS", []))
    nbytes = a.dtype.itemsize * int(np.prod(shape))
    # -1, or more than the dimension's length: the whole dimension (1024 time steps on the
    # quarter-size dataset's 256).
    dst_chunks = [s if int(c) == -1 else min(int(c), s)
                  for c, s in zip(args.dst_chunks.split(","), shape)]
    dropped = drop_caches()
    if not dropped:  # warm the page cache for everyone alike
        for root, _, files in os.walk(src):
            for f in files:
                with open(os.path.join(root, f), "rb") as fh:
                    while fh.read(1 << 24):
                        pass
    results = []
    lsio_chunks = ",".join(f"{d}={c}" for d, c in zip(dims, dst_chunks))
    lsio_argv = [args.lsio, "rechunk", src, None, "--var", args.var, "--chunks", lsio_chunks,
                 "--codec", f"blosc:zstd:{args.clevel}:shuffle", "--max-memory", args.max_memory,
                 "--threads", str(args.threads), "--quiet"]
    if args.shards:
        shards = [s if int(c) == -1 else min(int(c), s)
                  for c, s in zip(args.shards.split(","), shape)]
        lsio_argv += ["--format", "3", "--shards",
                      ",".join(f"{d}={c}" for d, c in zip(dims, shards))]
    sides = [("lsio", lsio_argv, args.var)]
    side_args = [f"--dst-chunks={','.join(map(str, dst_chunks))}", f"--var={args.var}",
                 f"--max-memory={args.max_memory}", f"--threads={args.threads}",
                 f"--clevel={args.clevel}", f"--blocksize={args.blocksize}", f"--src={src}",
                 "--dst", None]
    skipped = []
    if args.shards:
        side_args.insert(0, f"--shards={','.join(map(str, shards))}")
    for peer in [p for p in args.peers.split(",") if p]:
        python = sys.executable
        if args.shards and peer in ("rechunker", "cubed"):
            skipped.append(f"{peer}: cannot write a sharded Zarr v3 array")
            continue
        if peer == "rechunker":
            if not v2:
                skipped.append(f"rechunker: needs a Zarr v2 source (zarr-python 2)")
                continue
            python, why = rechunker_python()
            if python is None:
                skipped.append(f"rechunker: {why}")
                continue
        sides.append((peer, [python, os.path.abspath(__file__), f"--side={peer}", *side_args],
                      args.var if peer != "rechunker" else ""))
    for line in skipped:
        print("skipped " + line, file=sys.stderr)
    lsio_out = None
    # ext4 without a journal (this machine's root) skips, for each new inode, every inode freed
    # in the last 5 s (fs/ext4/ialloc.c, recently_deleted): a side started right after the last
    # side's output was deleted paid ~12% more CPU in the kernel creating its files (perf).
    # Each side starts at least 6 s after the last deletion.
    deleted = 0.0

    def remove(d):
        """Deletes d: the time it was deleted, or None when there was nothing."""
        if not os.path.exists(d):
            return None
        shutil.rmtree(d, ignore_errors=True)
        return time.monotonic()

    for name, argv, path in sides:
        dst = os.path.join(args.data, f"out_{name}.zarr")
        deleted = remove(dst) or deleted
        argv = [dst if x is None else x for x in argv]
        if dropped:
            drop_caches()
        time.sleep(max(0.0, deleted + 6.0 - time.monotonic()))
        r = run_process(argv)
        r["side"] = name
        r["check"] = check_equal(src, dst, path, args.var) if r["ok"] else "failed"
        r["gb_per_s"] = nbytes / 1e9 / r["seconds"]
        r["stored_bytes"] = sum(os.path.getsize(os.path.join(d, f))
                                for d, _, fs in os.walk(dst) for f in fs)
        results.append(r)
        print(f"{name}: {r['seconds']:.2f} s, peak RSS {r['peak_rss'] / 2**20:.0f} MiB, "
              f"read {r['bytes_read'] / 2**20:.0f} MiB, {r['check']}" +
              (f" ({r['error']})" if r["error"] else ""), file=sys.stderr)
        if name == "lsio":
            lsio_out = r["stored_bytes"]
        deleted = remove(dst) or deleted
    disk = {}
    if args.fio and shutil.which("fio"):
        unit = a.dtype.itemsize * int(np.prod(dst_chunks))
        out_bytes = lsio_out or nbytes
        disk = fio_disk_limit(os.path.join(src, args.var), out_bytes,
                              unit * out_bytes // nbytes, args.data)
        print(f"fio: {disk}", file=sys.stderr)
    ref = results[0]
    src_stored = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(src) for f in fs)
    fmt = f"Zarr v{2 if v2 else 3}"
    blocks = f"{args.blocksize}-byte blocks" if args.blocksize else "c-blosc's block size"
    lines = [f"Rechunk {os.path.basename(src)} ({fmt}, {'x'.join(map(str, shape))} "
             f"{a.dtype}, {nbytes / 2**30:.2f} GiB decoded, {src_stored / 2**30:.2f} GiB stored) "
             f"chunks {'x'.join(map(str, src_chunks))} -> {'x'.join(map(str, dst_chunks))}"
             + (f" in shards {args.shards} (lsio and dask; rechunker and Cubed cannot write "
                f"shards)" if args.shards else "")
             + f", --max-memory {args.max_memory}, {args.threads} threads, blosc zstd:"
             + f"{args.clevel} with {blocks} for the peers, "
             + ("page cache dropped before each side" if dropped else "warm page cache"),
             "",
             "| side | seconds | GB/s (decoded) | peak RSS MiB | RSS / budget | CPU s | "
             "read MiB | written MiB | time vs lsio | output |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in results:
        ratio = r["seconds"] / ref["seconds"] if ref["ok"] and r["ok"] else float("nan")
        lines.append(f"| {r['side']} | {r['seconds']:.2f} | {r['gb_per_s']:.3f} | "
                     f"{r['peak_rss'] / 2**20:.0f} | {r['peak_rss'] / max_mem:.2f} | "
                     f"{r['cpu_seconds']:.1f} | {r['bytes_read'] / 2**20:.0f} | "
                     f"{r['bytes_written'] / 2**20:.0f} | {ratio:.2f}x | {r['check']} |")
    if disk:
        t = 0.0
        if "read_gb_per_s" in disk:
            t += src_stored / 1e9 / disk["read_gb_per_s"]
        if "write_gb_per_s" in disk:
            t += (lsio_out or nbytes) / 1e9 / disk["write_gb_per_s"]
        lines += ["", f"Disk limit (fio, O_DIRECT, 1 MiB blocks, same disk): read "
                  f"{disk.get('read_gb_per_s', float('nan')):.3f} GB/s over the source's "
                  f"{src_stored / 2**20:.0f} MiB, write "
                  f"{disk.get('write_gb_per_s', float('nan')):.3f} GB/s; reading the input plus writing lsio's {(lsio_out or 0) / 2**20:.0f} MiB"
                  f" output: {t:.2f} s ({nbytes / 1e9 / t if t else float('nan'):.3f} GB/s "
                  f"decoded); lsio at {t / ref['seconds'] if t else float('nan'):.2f}x of it"]
    for line in skipped:
        lines.append(f"\nSkipped {line}")
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text + "\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"results": results, "disk": disk, "skipped": skipped}, f, indent=1)
    return 0 if all(r["check"] == "identical" for r in results if r["ok"]) else 1


if __name__ == "__main__":
    sys.exit(main())
