#!/usr/bin/env python3
"""lsio.store benchmark: many byte ranges from many files, from Python, against the other ways
Python code reads them.

Workloads (64 files of 64 MiB of random bytes, 4 GiB, in data/bench-store, written once):
  64k: 10,000 random 64 KiB ranges (distinct 64 KiB-aligned slots, so no range is read twice)
  4m:   1,000 random 4 MiB ranges (distinct 4 MiB-aligned slots)
Every side gets the whole request list at once and returns every range's bytes:
  lsio           lsio.store.open(dir).get_ranges(keys, starts, ends): one call (O_DIRECT)
  lsio-buffered  the same with direct_io=False (through the page cache)
  lsio-paths     lsio.read_ranges([(path, start, end), ...]): one call
  obstore        obstore.get_ranges_async per file, the 64 calls gathered by asyncio (obstore's
                 own parallelism; default coalescing)
  obstore-sync   obstore.get_ranges per file, one file after the other (the obvious use)
  fsspec         fsspec.filesystem("file").cat_ranges(paths, starts, ends)
  pread-pool     concurrent.futures.ThreadPoolExecutor(32) of os.pread, files opened once
  pread-serial   a plain loop of os.pread
Each side runs in its own process and makes --calls calls (default 3): the first call pays for
set-up and for first-touching the memory its results live in, later calls are what a
long-running reader sees (lsio reuses its pooled buffers then). CPU seconds: user + sys of all
the process's threads during the call (getrusage); peak RSS of the process. The page cache of
the 64 files is dropped before every call (posix_fadvise DONTNEED: no root needed, and the rest
of the machine's cache is left alone; --warm keeps it). Sides take turns within each round;
times are medians over rounds, ratios the medians of per-round ratios. Every side's results are
checked (CRC-32 of all bytes in request order) against the serial pread loop's.

With --s3 the same requests also go to `rclone serve s3` (127.0.0.1, SigV4 checked) serving the
same files as bucket "bkt": lsio.store over s3://, obstore's S3Store (get_ranges_async per file,
gathered) and s3fs cat_ranges; their ratios are against lsio over S3. rclone runs with
--etag-hash '' (its local backend would otherwise MD5 the whole 64 MiB file for every GET's
ETag, which real S3 stores; that made every range request cost a full file read). rclone answers
range GETs with 200 + Content-Range, which obstore refuses; --s3-server nginx serves the same
files path-style from nginx instead (206 answers, no signature check: the clients still sign),
where obstore works. (moto, tried too, reads the whole object for every range GET: 10,000 GETs of
64 MiB objects overwhelm it, so it measures the server, not the clients.)

Usage: bench/store/run.py [--rounds 3] [--calls 3] [--only 64k,4m] [--sides lsio,...] [--warm]
                          [--s3 [--s3-server rclone|nginx]]
                          [--markdown FILE] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "data", "bench-store")
KiB, MiB = 1 << 10, 1 << 20
FILES, FILE_SIZE = 64, 64 * MiB
WORKLOADS = {
    "64k": dict(n=10_000, size=64 * KiB, desc="10,000 random 64 KiB ranges over 64 files"),
    "4m": dict(n=1_000, size=4 * MiB, desc="1,000 random 4 MiB ranges over 64 files"),
}
SIDES = ["lsio", "lsio-buffered", "lsio-paths", "obstore", "obstore-sync", "fsspec", "pread-pool", "pread-serial"]
S3_SIDES = ["s3-lsio", "s3-obstore", "s3-fsspec"]
REFERENCE = "pread-serial"


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def names():
    return ["f%02d" % i for i in range(FILES)]


def ensure_data(data):
    marker = os.path.join(data, ".complete")
    if os.path.exists(marker):
        return
    log(f"writing {FILES} x {FILE_SIZE // MiB} MiB under {data} (once)")
    os.makedirs(data, exist_ok=True)
    import numpy as np

    rng = np.random.default_rng(0)
    for n in names():
        with open(os.path.join(data, n), "wb") as f:
            for _ in range(FILE_SIZE // (8 * MiB)):
                f.write(rng.integers(0, 256, 8 * MiB, dtype=np.uint8).tobytes())
    os.sync()
    with open(marker, "w") as f:
        f.write("ok\n")


def requests(workload, seed=42):
    """(file name, start, end) in a random order; distinct aligned slots."""
    w = WORKLOADS[workload]
    per_file = FILE_SIZE // w["size"]
    slots = random.Random(seed).sample(range(FILES * per_file), w["n"])
    out = []
    for s in slots:
        f, i = divmod(s, per_file)
        out.append(("f%02d" % f, i * w["size"], (i + 1) * w["size"]))
    return out


def drop_cache(data):
    for n in names():
        fd = os.open(os.path.join(data, n), os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


# --------------------------------------------------------------------------------------------
# Sides (run in a child process: `run.py --side NAME --workload W --data DIR`)


def side_lsio(data, reqs):
    import lsio.store

    s = lsio.store.open(data)
    return s.get_ranges([k for k, _, _ in reqs], [a for _, a, _ in reqs], [b for _, _, b in reqs])


def side_lsio_buffered(data, reqs):
    import lsio.store

    s = lsio.store.open(data, direct_io=False)
    return s.get_ranges([k for k, _, _ in reqs], [a for _, a, _ in reqs], [b for _, _, b in reqs])


def side_lsio_paths(data, reqs):
    import lsio

    return lsio.read_ranges([(os.path.join(data, k), a, b) for k, a, b in reqs])


def _by_file(reqs):
    by = {}
    for i, (k, a, b) in enumerate(reqs):
        by.setdefault(k, []).append((i, a, b))
    return by


def side_obstore(data, reqs):
    import asyncio

    import obstore
    from obstore.store import LocalStore

    store = LocalStore(data)
    out = [None] * len(reqs)

    async def one(k, items):
        parts = await obstore.get_ranges_async(store, k, starts=[a for _, a, _ in items],
                                               ends=[b for _, _, b in items])
        for (i, _, _), p in zip(items, parts):
            out[i] = p

    async def main():
        await asyncio.gather(*(one(k, items) for k, items in _by_file(reqs).items()))

    asyncio.run(main())
    return out


def side_obstore_sync(data, reqs):
    import obstore
    from obstore.store import LocalStore

    store = LocalStore(data)
    out = [None] * len(reqs)
    for k, items in _by_file(reqs).items():
        parts = obstore.get_ranges(store, k, starts=[a for _, a, _ in items],
                                   ends=[b for _, _, b in items])
        for (i, _, _), p in zip(items, parts):
            out[i] = p
    return out


def side_fsspec(data, reqs):
    import fsspec

    fs = fsspec.filesystem("file")
    return fs.cat_ranges([os.path.join(data, k) for k, _, _ in reqs], [a for _, a, _ in reqs],
                         [b for _, _, b in reqs])


# Over S3 (--s3: rclone serve s3 on 127.0.0.1 serving the same files as bucket "bkt"; the
# endpoint and credentials come in LSIO_BENCH_S3 as endpoint,key,secret).


def _s3():
    endpoint, key, secret = os.environ["LSIO_BENCH_S3"].split(",", 2)
    return endpoint, key, secret


def side_s3_lsio(data, reqs):
    import lsio.store

    endpoint, key, secret = _s3()
    s = lsio.store.open("s3://bkt", endpoint_url=endpoint, key=key, secret=secret,
                        region="us-east-1")
    return s.get_ranges([k for k, _, _ in reqs], [a for _, a, _ in reqs], [b for _, _, b in reqs])


def side_s3_obstore(data, reqs):
    import asyncio

    import obstore
    from obstore.store import S3Store

    endpoint, key, secret = _s3()
    store = S3Store("bkt", endpoint=endpoint, access_key_id=key, secret_access_key=secret,
                    region="us-east-1", client_options={"allow_http": True})
    out = [None] * len(reqs)

    async def one(k, items):
        parts = await obstore.get_ranges_async(store, k, starts=[a for _, a, _ in items],
                                               ends=[b for _, _, b in items])
        for (i, _, _), p in zip(items, parts):
            out[i] = p

    async def main():
        await asyncio.gather(*(one(k, items) for k, items in _by_file(reqs).items()))

    asyncio.run(main())
    return out


def side_s3_fsspec(data, reqs):
    import s3fs

    endpoint, key, secret = _s3()
    fs = s3fs.S3FileSystem(key=key, secret=secret,
                           client_kwargs={"endpoint_url": endpoint, "region_name": "us-east-1"})
    return fs.cat_ranges([f"bkt/{k}" for k, _, _ in reqs], [a for _, a, _ in reqs],
                         [b for _, _, b in reqs])


def _fds(data):
    return {n: os.open(os.path.join(data, n), os.O_RDONLY) for n in names()}


def side_pread_pool(data, reqs):
    from concurrent.futures import ThreadPoolExecutor

    fds = _fds(data)
    with ThreadPoolExecutor(32) as pool:
        return list(pool.map(lambda r: os.pread(fds[r[0]], r[2] - r[1], r[1]), reqs))


def side_pread_serial(data, reqs):
    fds = _fds(data)
    return [os.pread(fds[k], b - a, a) for k, a, b in reqs]


def run_side(name, workload, data, calls, warm):
    """`calls` calls in one process: the first pays for fresh memory and set-up, the later ones
    are what a long-running reader (a data loader) sees. The page cache of the files is dropped
    before each call unless `warm`."""
    reqs = requests(workload)
    fn = globals()["side_" + name.replace("-", "_")]
    out = []
    for _ in range(calls):
        if not warm:
            drop_cache(data)
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        t = time.perf_counter()
        got = fn(data, reqs)
        seconds = time.perf_counter() - t
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        crc = 0
        total = 0
        for g in got:
            crc = zlib.crc32(g, crc)
            total += len(g)
        out.append(dict(seconds=seconds, cpu=cpu, bytes=total, crc=crc, n=len(got)))
        del got
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps(dict(calls=out, peak_rss=peak)))


# --------------------------------------------------------------------------------------------
# Driver


def measure(name, workload, data, calls, warm, env=None):
    cmd = [sys.executable, os.path.abspath(__file__), "--side", name, "--workload", workload,
           "--data", data, "--calls", str(calls)] + (["--warm"] if warm else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        # A side that fails is reported as failed (its last line of error), not the whole run.
        lines = [x.strip() for x in proc.stderr.strip().splitlines() if x.strip()]
        # The exception's line (a Rust error's debug dump may follow it).
        named = [x for x in lines if x.split(":", 1)[0].endswith(("Error", "Exception"))]
        error = named[-1] if named else lines[-1] if lines else f"exit {proc.returncode}"
        return dict(error=error[:300])
    return json.loads(proc.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--side")
    ap.add_argument("--workload", default="64k")
    ap.add_argument("--data", default=DATA)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--calls", type=int, default=3, help="calls per side process")
    ap.add_argument("--only", default="64k,4m")
    ap.add_argument("--sides", default=",".join(SIDES))
    ap.add_argument("--warm", action="store_true", help="keep the page cache")
    ap.add_argument("--s3", action="store_true",
                    help="also the S3 sides (rclone serve s3 on 127.0.0.1, same files)")
    ap.add_argument("--s3-server", choices=["rclone", "nginx"], default="rclone",
                    help="the S3 server for --s3: rclone serve s3 (checks SigV4; answers range "
                         "GETs 200 + Content-Range, which obstore refuses) or nginx serving the "
                         "files path-style (206, no signature check)")
    ap.add_argument("--markdown")
    ap.add_argument("--json")
    args = ap.parse_args()
    if args.side:
        run_side(args.side, args.workload, args.data, args.calls, args.warm)
        return
    ensure_data(args.data)
    sides = args.sides.split(",")
    if REFERENCE not in sides:
        sides.append(REFERENCE)
    env = None
    server = None
    if args.s3:
        if not any(s.startswith("s3-") for s in sides):  # --s3 alone: every S3 side
            sides += S3_SIDES
        start = start_nginx_s3 if args.s3_server == "nginx" else start_s3
        server, env, base = start(args.data)
    try:
        results = run_all(args, sides, env)
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
            shutil.rmtree(base, ignore_errors=True)
    table = render(results, sides, args.warm)
    print(table)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table + "\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


def _wait_for_port(proc, port, base, name):
    """Waits up to 30 s for a server on 127.0.0.1:port; stops it and removes `base` if none."""
    import socket

    for _ in range(300):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    proc.terminate()
    shutil.rmtree(base, ignore_errors=True)
    raise RuntimeError(f"{name} did not start")


def start_s3(data):
    import socket
    import tempfile

    base = tempfile.mkdtemp(prefix="lsio-bench-store-")
    os.makedirs(os.path.join(base, "root"))
    os.symlink(os.path.abspath(data), os.path.join(base, "root", "bkt"))
    open(os.path.join(base, "rclone.conf"), "w").close()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    key, secret = "AKIDLSIOBENCH", "bench/secret+KEY=0123456789"
    rclone = os.path.join(ROOT, ".venv", "bin", "rclone")
    proc = subprocess.Popen([rclone, "serve", "s3", "--config", os.path.join(base, "rclone.conf"),
                             "--addr", f"127.0.0.1:{port}", "--auth-key", f"{key},{secret}",
                             # No ETag: rclone's local backend would hash the whole file
                             # (64 MiB) for every GET's ETag, which S3 stores instead.
                             "--no-checksum", "--etag-hash", "", "-L", os.path.join(base, "root")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for_port(proc, port, base, "rclone serve s3")
    env = {**os.environ, "LSIO_BENCH_S3": f"http://127.0.0.1:{port},{key},{secret}"}
    return proc, env, base


def start_nginx_s3(data):
    """nginx on 127.0.0.1 serving the 64 files at /bkt/NAME: the S3 protocol's path-style range
    GETs and HEADs, answered 206 (which obstore requires and rclone does not give), at the speed
    of a C server. nginx does not check signatures: the clients still sign every request."""
    import socket
    import tempfile

    base = tempfile.mkdtemp(prefix="lsio-bench-store-")
    os.makedirs(os.path.join(base, "root"))
    os.symlink(os.path.abspath(data), os.path.join(base, "root", "bkt"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with open(os.path.join(base, "nginx.conf"), "w") as f:
        f.write(f"daemon off; master_process off; worker_processes 1; pid {base}/nginx.pid;\n"
                f"error_log {base}/nginx.err warn; events {{ worker_connections 1024; }}\n"
                f"http {{ access_log off; client_body_temp_path {base}; proxy_temp_path {base};\n"
                f"fastcgi_temp_path {base}; uwsgi_temp_path {base}; scgi_temp_path {base};\n"
                f"keepalive_requests 100000; sendfile on;\n"
                f"server {{ listen 127.0.0.1:{port}; root {base}/root; }} }}\n")
    proc = subprocess.Popen(["/usr/sbin/nginx", "-p", base, "-c", os.path.join(base, "nginx.conf")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for_port(proc, port, base, "nginx")
    env = {**os.environ, "LSIO_BENCH_S3": f"http://127.0.0.1:{port},AKIDLSIOBENCH,bench/secret"}
    return proc, env, base


def _load():
    return " ".join(open("/proc/loadavg").read().split()[:3])


def run_all(args, sides, env):
    log(f"machine: {os.cpu_count()} cores, load average {_load()}; "
        f"{'warm' if args.warm else 'cold (fadvise DONTNEED per file)'} cache")
    results = {"_meta": dict(start=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                             load_start=_load(), cores=os.cpu_count())}
    for wl in args.only.split(","):
        runs = {s: [] for s in sides}
        for rnd in range(args.rounds):
            order = sides[rnd % len(sides):] + sides[:rnd % len(sides)]
            for s in order:
                r = measure(s, wl, args.data, args.calls, args.warm, env)
                runs[s].append(r)
                if "error" in r:
                    log(f"  {wl} round {rnd + 1} {s:13s} FAILED: {r['error']}")
                    continue
                first, later = r["calls"][0], r["calls"][1:]
                log(f"  {wl} round {rnd + 1} {s:13s} first {first['seconds']:7.3f} s "
                    f"(cpu {first['cpu']:5.2f} s)  later "
                    + " ".join(f"{c['seconds']:.3f}" for c in later)
                    + f"  peak RSS {r['peak_rss'] / MiB:.0f} MiB")
        ref_crc = runs[REFERENCE][0]["calls"][0]["crc"]
        for s in sides:
            for r in runs[s]:
                for c in r.get("calls", []):
                    if c["crc"] != ref_crc or c["n"] != WORKLOADS[wl]["n"]:
                        raise RuntimeError(f"{s} returned other bytes than {REFERENCE} ({wl})")
        results[wl] = runs
    results["_meta"].update(end=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                            load_end=_load())
    return results


def _med(xs):
    return statistics.median(xs)


def render(results, sides, warm):
    """First call (fresh process: set-up and first-touch of the result memory) and later calls
    (median over calls 2.. of every round) side by side; ratios are medians of per-round
    ratios to lsio (s3-* sides: to s3-lsio). A side that failed in a round is left out of that
    round's ratio and its error shown."""
    meta = results.get("_meta", {})
    lines = [f"lsio.store vs Python peers, {'warm' if warm else 'cold'} page cache; "
             f"{meta.get('start', '?')} to {meta.get('end', '?')}, {meta.get('cores', '?')} "
             f"cores, load average {meta.get('load_start', '?')} at the start, "
             f"{meta.get('load_end', '?')} at the end. Seconds are medians over rounds; "
             f"'x lsio' = the side's time / lsio's time in the same round (median; s3-* sides "
             f"against s3-lsio): above 1, lsio is faster; CPU = user + sys of the side's process "
             f"during the call (the S3 server's not counted); results equal (CRC-32 over all "
             f"bytes in request order).", ""]
    nan = float("nan")
    for wl, runs in results.items():
        if wl == "_meta":
            continue
        lines.append(f"### {WORKLOADS[wl]['desc']}")
        lines.append("")
        lines.append("| side | first call s | x lsio | GB/s | CPU s | later calls s | x lsio "
                     "| GB/s | CPU s | peak RSS MiB |")
        lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        nbytes = WORKLOADS[wl]["n"] * WORKLOADS[wl]["size"]

        def ok(r):
            return "calls" in r

        def first(r):
            return r["calls"][0]["seconds"] if ok(r) else nan

        def later_sec(r):
            return _med([c["seconds"] for c in r["calls"][1:]] or [nan]) if ok(r) else nan

        def med(xs):
            xs = [x for x in xs if x == x]
            return _med(xs) if xs else nan

        for s in sides:
            rs = runs[s]
            good = [r for r in rs if ok(r)]
            if not good:
                lines.append(f"| {s} | failed: {rs[0]['error'].replace('|', '/')} "
                             f"| | | | | | | | |")
                continue
            f_sec = med([first(r) for r in rs])
            f_cpu = med([r["calls"][0]["cpu"] for r in good])
            l_sec = med([later_sec(r) for r in rs])
            l_cpu = med([_med([c["cpu"] for c in r["calls"][1:]] or [nan]) for r in good])
            base = "s3-lsio" if s.startswith("s3-") else "lsio"
            f_x = l_x = nan
            if base in runs:
                f_x = med([first(r) / first(q) for r, q in zip(rs, runs[base])])
                l_x = med([later_sec(r) / later_sec(q) for r, q in zip(rs, runs[base])])
            rss = _med([r["peak_rss"] for r in good]) / MiB
            note = "" if len(good) == len(rs) else f" ({len(rs) - len(good)} round(s) failed)"
            lines.append(f"| {s}{note} | {f_sec:.3f} | {f_x:.2f} | {nbytes / f_sec / 1e9:.2f} | "
                         f"{f_cpu:.2f} | {l_sec:.3f} | {l_x:.2f} | {nbytes / l_sec / 1e9:.2f} | "
                         f"{l_cpu:.2f} | {rss:.0f} |")
        failures = {s: r["error"] for s in sides for r in runs[s] if not ok(r)}
        if failures:
            lines.append("")
            for s, e in failures.items():
                lines.append(f"- {s} failed: {e}")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
