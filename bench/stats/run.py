#!/usr/bin/env python3
"""The end-to-end stats benchmark: `lsio stats` against the disk, the decoder and its peers.

For each dataset written by bench/make_dataset.py (1: 4 GiB uncompressed 8x512x512 chunks,
Zarr v2; 2: the same with blosc(zstd, 1, shuffle); 3: 1 GiB in 64 KiB chunks; 4: Zarr v3,
shards of 64 zstd inner chunks), in one run:

  disk limit    fio --ioengine=io_uring --direct=1 --iodepth=64 --rw=read over the array's
                chunk files (--opendir), --bs = the chunk file size, or 1 MiB for larger or
                variable-size files; its rate (fio's own clock) times logical / stored bytes,
                so that it compares with logical (decoded) throughput.
  decode limit  decode_limit (bench/stats/decode_limit.cc): lsio's own single-thread decode of
                a sample of the dataset's chunks, in logical bytes per CPU second, times the
                thread count. None (unlimited) for uncompressed data.
  lsio stats    the CLI, `lsio stats STORE --var t2m --json --quiet`, default settings.
  lsio.stats    the same from Python (bench/python/lsio_stats.py).
  dask          dask.compute(a.min(), a.max(), a.mean(), a.std()) on da.from_zarr
                (peer_dask.py; 2 threads).
  TensorStore   large blocks read ahead, numpy reductions per block (peer_tensorstore.py).
  zarrs         zarr-python + the zarrs codec pipeline, the same way (peer_zarrs.py).
  xarray        xr.open_dataset(engine="lsio")[var].mean().compute(), the same with
                chunks={} (dask over lsio reads), and xr.open_zarr(...)[var].mean().compute()
                (bench/python/xarray_mean.py).
  Python vs CLI the CLI and lsio.stats alternating --py-cli-rounds times on a copy of the
                dataset in /dev/shm (tmpfs), where the shared virtual disk's swings (below)
                do not drown a 5% difference; the ratio is the median of per-round ratios.

Every side is its own process under /usr/bin/time -v (peak RSS), with the page cache dropped
before it (sync; echo 3 > /proc/sys/vm/drop_caches). Throughput is the dataset's logical
bytes divided by: fio's runtime (fio), the process wall time (lsio CLI), the timed region in
the process (Python sides: the computation including opening the store, not the interpreter
start-up and imports). Bytes read from disk come from /proc/diskstats of the data's device
around each side. Every side's min/max must equal lsio's and mean/std agree to 1e-6 relative.

The disk here is a virtual disk backed by a file on a shared host: data read in the last few
minutes comes from the host's page cache (~1-2 GB/s), older data from its storage (~0.1 GB/s),
and the guest cannot drop the host's cache. So each dataset is read once with fio before its
measured runs (unmeasured), putting every side in the same state, and fio, the CLI and
lsio.stats take turns for --rounds rounds (order rotated); ratios are medians of per-round
ratios. The peers run --peer-rounds times (default once). The 16 GiB run for the flat-RSS check
is not warmed up (its rate is the host storage's; only its RSS is compared).

Usage: bench/stats/run.py [--lsio build/bin/lsio] [--decode-limit build/bin/decode_limit]
                          [--data data/bench] [--datasets 1,2,3,4] [--flat 1:16g]
                          [--rounds 3] [--peer-rounds 1] [--markdown FILE] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PY = os.path.join(ROOT, ".venv", "bin", "python")
MiB = 1 << 20
THREADS = 2

DATASETS = {
    "1": dict(desc="(1) 4 GiB, 8x512x512 chunks, v2, uncompressed", block=8),
    "2": dict(desc="(2) same, blosc(zstd, 1, shuffle)", block=8),
    "3": dict(desc="(3) 1 GiB, 64 KiB chunks, v2, uncompressed", block=8,
              dask_chunks="16,720,1440"),
    "4": dict(desc="(4) v3 sharded (64 inner chunks), zstd", block=16),
    "16g": dict(desc="16 GiB, as (1)", block=8),
}
TARGET_DISK_OR_DECODE = 0.9
TARGET_VS_DASK = {"1": 3.0, "2": 2.5, "3": 3.0}
TARGET_RSS_MIB = 300
TARGET_RSS_FLAT = 0.10
TARGET_PY_VS_CLI = 0.05


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Measuring one side


def drop_caches() -> bool:
    subprocess.run(["sync"], check=True)
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def device_of(path: str) -> str | None:
    """The /proc/diskstats name of the block device holding `path` (None if unknown)."""
    try:
        dev = os.stat(path).st_dev
        major, minor = os.major(dev), os.minor(dev)
        with open("/proc/diskstats") as f:
            for line in f:
                parts = line.split()
                if int(parts[0]) == major and int(parts[1]) == minor:
                    return parts[2]
    except OSError:
        pass
    return None


def sectors_read(device: str | None) -> int:
    if device is None:
        return 0
    with open("/proc/diskstats") as f:
        for line in f:
            parts = line.split()
            if parts[2] == device:
                return int(parts[5])
    return 0


TIME_FIELDS = {
    "Maximum resident set size (kbytes)": "rss_kib",
    "User time (seconds)": "user_s",
    "System time (seconds)": "sys_s",
}


def run_side(argv: list[str], device: str | None, cold: bool, env=None) -> dict:
    """Runs argv under /usr/bin/time -v with a cold cache; returns wall, RSS, CPU, disk bytes
    and stdout."""
    if cold:
        drop_caches()
    before = sectors_read(device)
    load = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v"] + argv, capture_output=True, text=True,
                          env=env)
    wall = time.perf_counter() - start
    disk = (sectors_read(device) - before) * 512
    out = {"wall_s": wall, "disk_bytes": disk, "load": load, "rc": proc.returncode,
           "stdout": proc.stdout}
    for line in proc.stderr.splitlines():
        key, _, value = line.strip().partition(": ")
        if key in TIME_FIELDS:
            out[TIME_FIELDS[key]] = float(value)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.splitlines()[-15:])
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}):\n{tail}")
    return out


def last_json(text: str) -> dict:
    """The JSON object a side printed (fio prints notices before its JSON)."""
    start = text.find("{")
    if start < 0:
        raise ValueError(f"no JSON in output: {text[:200]!r}")
    return json.loads(text[start:])


# --------------------------------------------------------------------------------------------
# Datasets


def dataset_facts(store: str, var: str) -> dict:
    """Logical bytes (shape x itemsize), stored bytes (every chunk file) and the chunk files'
    sizes, from the metadata and a directory walk."""
    adir = os.path.join(store, var)
    if os.path.exists(os.path.join(adir, ".zarray")):
        with open(os.path.join(adir, ".zarray")) as f:
            meta = json.load(f)
        shape, itemsize = meta["shape"], int(meta["dtype"][-1])
        meta_files = {".zarray", ".zattrs"}
    else:
        with open(os.path.join(adir, "zarr.json")) as f:
            meta = json.load(f)
        shape = meta["shape"]
        itemsize = {"float32": 4, "float64": 8, "int16": 2}[meta["data_type"]]
        meta_files = {"zarr.json"}
    sizes = []
    for dirpath, _, files in os.walk(adir):
        for name in files:
            if dirpath == adir and name in meta_files:
                continue
            sizes.append(os.path.getsize(os.path.join(dirpath, name)))
    logical = itemsize
    for n in shape:
        logical *= n
    return {"logical_bytes": logical, "stored_bytes": sum(sizes), "files": len(sizes),
            "max_file": max(sizes), "min_file": min(sizes), "array_dir": adir}


# --------------------------------------------------------------------------------------------
# Sides


def side_fio(facts: dict, device, cold) -> dict:
    same_size = facts["max_file"] == facts["min_file"]
    bs = facts["max_file"] if same_size and facts["max_file"] <= MiB else MiB
    argv = ["fio", "--name=disk", "--ioengine=io_uring", "--direct=1", "--iodepth=64",
            "--rw=read", f"--bs={bs}", f"--opendir={facts['array_dir']}", "--thread",
            "--group_reporting", "--output-format=json"]
    r = run_side(argv, device, cold)
    read = last_json(r["stdout"])["jobs"][0]["read"]
    r["fio_bytes"] = read["io_bytes"]
    r["fio_runtime_s"] = read["runtime"] / 1000.0
    r["block"] = bs
    # fio reads whole blocks only: with 1 MiB blocks the tail of each file under 1 MiB is
    # skipped, so the rate is what counts, converted to logical bytes with the dataset's ratio.
    r["raw_rate"] = read["bw_bytes"]
    r["rate"] = read["bw_bytes"] * facts["logical_bytes"] / facts["stored_bytes"]
    r["seconds"] = r["fio_runtime_s"]
    return r


def stats_of(d: dict) -> dict:
    return {k: d.get(k) for k in ("min", "max", "mean", "std")}


def side_lsio(lsio: str, store: str, var: str, facts: dict, device, cold) -> dict:
    r = run_side([lsio, "stats", store, "--var", var, "--json", "--quiet"], device, cold)
    j = last_json(r["stdout"])
    v = j["variables"][var]
    r["result"] = stats_of(v)
    r["seconds"] = r["wall_s"]
    r["lsio_seconds"] = j["seconds"]
    r["bytes_read"] = j["bytes_read"]
    r["rate"] = facts["logical_bytes"] / r["seconds"]
    return r


def side_python(script: list[str], facts: dict, device, cold) -> dict:
    r = run_side([PY] + script, device, cold)
    j = last_json(r["stdout"])
    r["result"] = stats_of(j)
    r["seconds"] = j["seconds"]
    r["extra"] = {k: v for k, v in j.items() if k not in ("min", "max", "mean", "std")}
    r["rate"] = facts["logical_bytes"] / r["seconds"]
    return r


def agrees(result: dict, reference: dict, exact_minmax: bool = True) -> tuple[bool, str]:
    worst = 0.0
    for k in ("min", "max", "mean", "std"):
        if result.get(k) is None:
            continue
        a, b = float(result[k]), float(reference[k])
        if k in ("min", "max") and exact_minmax:
            if a != b:
                return False, f"{k} {a!r} != {b!r}"
            continue
        rel = abs(a - b) / max(abs(b), 1e-300)
        worst = max(worst, rel)
        if rel > 1e-6:
            return False, f"{k} {a!r} vs {b!r} (rel {rel:.1e})"
    return True, f"{worst:.0e}"


# --------------------------------------------------------------------------------------------
# One dataset


def run_dataset(name: str, args, device, cold) -> dict:
    store = os.path.join(args.data, f"{name}.zarr")
    spec = DATASETS[name]
    facts = dataset_facts(store, args.var)
    log(f"== dataset {name}: {facts['logical_bytes'] / 1e9:.2f} GB logical, "
        f"{facts['stored_bytes'] / 1e9:.2f} GB in {facts['files']} files")
    res = {"name": name, "desc": spec["desc"], "facts": facts, "sides": {}}

    # Decode limit (in memory, page cache allowed: it measures the decoder, not the disk).
    dl = json.loads(subprocess.run(
        [args.decode_limit, store, "--var", args.var], capture_output=True, text=True,
        check=True).stdout)
    per_thread = dl["logical_bytes"] / dl["decode_cpu_s"] if dl["decode_cpu_s"] > 0 else None
    res["decode"] = dl
    res["decode_limit"] = (None if dl["identity"] or per_thread is None
                           else per_thread * THREADS)
    res["kernel_rate"] = dl["logical_bytes"] / dl["stats_cpu_s"] * THREADS
    log(f"   decode limit: {fmt_rate(res['decode_limit'])} "
        f"(single thread {fmt_rate(per_thread) if not dl['identity'] else 'n/a'}), "
        f"statistics kernel {fmt_rate(res['kernel_rate'])} on {THREADS} threads")

    py_stats = [os.path.join(ROOT, "bench", "python", "lsio_stats.py"), store, "--var", args.var]
    if not args.no_warmup:
        w = side_fio(facts, device, cold)
        res["warmup"] = w
        log(f"   warm-up fio  {fmt_rate(w['rate'])} (not counted)")
    rounds = []
    for r in range(args.rounds):
        order = ["fio", "lsio", "python"]
        order = order[r % 3:] + order[:r % 3]
        one = {}
        for side in order:
            if side == "fio":
                one["fio"] = side_fio(facts, device, cold)
            elif side == "lsio":
                one["lsio"] = side_lsio(args.lsio, store, args.var, facts, device, cold)
            else:
                one["python"] = side_python(py_stats, facts, device, cold)
            s = one[side]
            log(f"   round {r + 1} {side:7s} {fmt_rate(s['rate'])}  {s['seconds']:.2f} s  "
                f"RSS {s.get('rss_kib', 0) / 1024:.0f} MiB  load {s['load']:.2f}")
        rounds.append(one)
    res["rounds"] = rounds

    peers = {
        "dask": [os.path.join(HERE, "peer_dask.py"), store, "--var", args.var,
                 "--threads", str(THREADS)] + (["--chunks", spec["dask_chunks"]]
                                               if "dask_chunks" in spec else []),
        "tensorstore": [os.path.join(HERE, "peer_tensorstore.py"), store, "--var", args.var,
                        "--threads", str(THREADS), "--block", str(spec["block"])],
        "zarrs": [os.path.join(HERE, "peer_zarrs.py"), store, "--var", args.var,
                  "--threads", str(THREADS), "--block", str(spec["block"])],
    }
    xr_script = os.path.join(ROOT, "bench", "python", "xarray_mean.py")
    if not args.skip_xarray:
        peers["xarray engine=lsio"] = [xr_script, store, "--var", args.var, "--engine", "lsio"]
        peers["xarray engine=lsio chunks={}"] = [xr_script, store, "--var", args.var,
                                                 "--engine", "lsio", "--chunks"]
        peers["xarray open_zarr"] = [xr_script, store, "--var", args.var, "--engine", "zarr"]
    for side, script in peers.items():
        runs = []
        for _ in range(args.peer_rounds if not side.startswith("xarray") else 1):
            s = side_python(script, facts, device, cold)
            log(f"   {side:18s} {fmt_rate(s['rate'])}  {s['seconds']:.2f} s  "
                f"RSS {s.get('rss_kib', 0) / 1024:.0f} MiB  load {s['load']:.2f}")
            runs.append(s)
        res["sides"][side] = runs
    if args.py_cli_rounds > 0:
        run_py_vs_cli_tmpfs(res, store, args, facts)
    return res


def run_py_vs_cli_tmpfs(res: dict, store: str, args, facts: dict) -> None:
    """CLI and lsio.stats alternating on a tmpfs copy of the store (the disk out of the way)."""
    need = facts["stored_bytes"] * 1.2
    st = os.statvfs("/dev/shm")
    if st.f_bavail * st.f_frsize < need:
        log("   (skipping the tmpfs Python-vs-CLI check: /dev/shm too small)")
        return
    copy = os.path.join("/dev/shm", f"lsio-bench-{os.getpid()}", os.path.basename(store))
    try:
        shutil.copytree(store, copy)
        rounds = []
        for r in range(args.py_cli_rounds):
            one = {}
            for side in (("lsio", "python") if r % 2 == 0 else ("python", "lsio")):
                if side == "lsio":
                    one[side] = side_lsio(args.lsio, copy, args.var, facts, None, False)
                else:
                    one[side] = side_python([os.path.join(ROOT, "bench", "python",
                                                          "lsio_stats.py"), copy, "--var",
                                             args.var], facts, None, False)
            rounds.append({k: v["seconds"] for k, v in one.items()})
            log(f"   tmpfs round {r + 1}: CLI {one['lsio']['seconds']:.2f} s, "
                f"Python {one['python']['seconds']:.2f} s")
        res["py_cli_tmpfs"] = {
            "rounds": rounds,
            "ratio": med([x["python"] / x["lsio"] for x in rounds]),
            "cli_median_s": med([x["lsio"] for x in rounds]),
            "py_median_s": med([x["python"] for x in rounds]),
        }
    finally:
        shutil.rmtree(os.path.dirname(copy), ignore_errors=True)


def run_flat(name: str, args, device, cold) -> dict:
    store = os.path.join(args.data, f"{name}.zarr")
    facts = dataset_facts(store, args.var)
    s = side_lsio(args.lsio, store, args.var, facts, device, cold)
    log(f"== {name}: lsio {fmt_rate(s['rate'])}  {s['seconds']:.2f} s  "
        f"RSS {s.get('rss_kib', 0) / 1024:.0f} MiB")
    return {"name": name, "facts": facts, "lsio": s}


# --------------------------------------------------------------------------------------------
# Report


def fmt_rate(r) -> str:
    return "unlimited" if r is None else f"{r / 1e9:.2f} GB/s"


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def summarise(res: dict) -> dict:
    """Medians over rounds and the ratios the targets are about."""
    rounds = res["rounds"]
    s = {}
    s["fio"] = med([r["fio"]["rate"] for r in rounds])
    s["lsio"] = med([r["lsio"]["rate"] for r in rounds])
    s["python"] = med([r["python"]["rate"] for r in rounds])
    dec = res["decode_limit"]
    # Per round: the limit is min(disk, decode), the disk measured in that round.
    s["vs_limit"] = med([r["lsio"]["rate"] / (min(r["fio"]["rate"], dec) if dec
                                              else r["fio"]["rate"]) for r in rounds])
    s["limit"] = min(s["fio"], dec) if dec else s["fio"]
    s["limit_kind"] = "decode" if dec and dec < s["fio"] else "disk"
    s["py_vs_cli"] = med([r["lsio"]["seconds"] / r["python"]["seconds"] for r in rounds])
    for side, runs in res["sides"].items():
        s[side] = med([x["rate"] for x in runs])
    s["rss_lsio_mib"] = max(r["lsio"]["rss_kib"] for r in rounds) / 1024
    return s


def table(results: list[dict], flat: list[dict], meta: dict) -> str:
    lines = []
    lines.append(f"lsio stats benchmark: {meta['cpu']}, {meta['cores']} cores, "
                 f"{meta['mem_gib']:.0f} GiB RAM, kernel {meta['kernel']}; "
                 f"page cache dropped before every side: {'yes' if meta['cold'] else 'NO'}; "
                 f"{meta['rounds']} round(s) of fio / lsio / lsio.stats (medians), "
                 f"peers x{meta['peer_rounds']}; load average {meta['load_start']:.2f} at start, "
                 f"{meta['load_end']:.2f} at end")
    lines.append("")
    lines.append("| dataset | side | GB/s (logical) | seconds | process wall s | read from disk | "
                 "peak RSS | CPU s | lsio ÷ side | result |")
    lines.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for res in results:
        s = summarise(res)
        f = res["facts"]
        ref = res["rounds"][0]["lsio"]["result"]
        ds = (f"{res['desc']}: {f['logical_bytes'] / 1e9:.2f} GB logical, "
              f"{f['stored_bytes'] / 1e9:.2f} GB stored")

        def row(side, rate, secs, disk, rss, cpu, ratio, check, wall=None):
            lines.append(f"| {ds if row.first else ''} | {side} | "
                         f"{'—' if rate is None else f'{rate / 1e9:.2f}'} | "
                         f"{'' if secs is None else f'{secs:.2f}'} | "
                         f"{'' if wall is None else f'{wall:.2f}'} | "
                         f"{'' if disk is None else f'{disk / 1e9:.2f} GB'} | "
                         f"{'' if rss is None else f'{rss / 1024:.0f} MiB'} | "
                         f"{'' if cpu is None else f'{cpu:.1f}'} | {ratio} | {check} |")
            row.first = False
        row.first = True

        def pick(runs, rate):  # the run whose rate is the median (for its other columns)
            return min(runs, key=lambda x: abs(x["rate"] - rate))

        fio = pick([r["fio"] for r in res["rounds"]], s["fio"])
        row(f"disk limit: fio, bs {fio['block'] // 1024} KiB "
            f"({fio['raw_rate'] / 1e9:.2f} GB/s stored bytes)", s["fio"], fio["seconds"],
            fio["disk_bytes"], fio.get("rss_kib"), fio["user_s"] + fio["sys_s"], "", "",
            fio["wall_s"])
        dl = res["decode"]
        row("decode limit: lsio decode x 2 threads" if res["decode_limit"] else
            "decode limit: uncompressed (statistics kernel x 2)",
            res["decode_limit"] if res["decode_limit"] else res["kernel_rate"], None, None,
            None, None, "", f"{dl['chunks']} chunks sampled")
        lsio_runs = [r["lsio"] for r in res["rounds"]]
        li = pick(lsio_runs, s["lsio"])
        row("**lsio stats** (CLI)", s["lsio"], li["seconds"], li["disk_bytes"], li["rss_kib"],
            li["user_s"] + li["sys_s"],
            f"{s['vs_limit']:.2f}x of {s['limit_kind']} limit", "reference", li["wall_s"])
        py = pick([r["python"] for r in res["rounds"]], s["python"])
        ok, why = agrees(py["result"], ref)
        row("lsio.stats (Python)", s["python"], py["seconds"], py["disk_bytes"], py["rss_kib"],
            py["user_s"] + py["sys_s"], f"CLI/Python time {s['py_vs_cli']:.3f}",
            "ok" if ok else f"**{why}**", py["wall_s"])
        for side, runs in res["sides"].items():
            x = pick(runs, s[side])
            ok, why = agrees(x["result"], ref)
            row(side, s[side], x["seconds"], x["disk_bytes"], x["rss_kib"],
                x["user_s"] + x["sys_s"], f"{s['lsio'] / s[side]:.2f}x",
                ("ok " + why) if ok else f"**{why}**", x["wall_s"])
    for fl in flat:
        f = fl["facts"]
        x = fl["lsio"]
        lines.append(f"| {DATASETS[fl['name']]['desc']}: {f['logical_bytes'] / 1e9:.2f} GB "
                     f"logical | **lsio stats** (CLI), no warm-up | {x['rate'] / 1e9:.2f} | "
                     f"{x['seconds']:.2f} | {x['wall_s']:.2f} | {x['disk_bytes'] / 1e9:.2f} GB | "
                     f"{x['rss_kib'] / 1024:.0f} MiB | {x['user_s'] + x['sys_s']:.1f} | | |")
    lines.append("")
    lines.append("Targets:")
    lines.extend(verdicts(results, flat))
    return "\n".join(lines)


def verdicts(results: list[dict], flat: list[dict]) -> list[str]:
    out = []

    def v(ok: bool) -> str:
        return "met" if ok else "**MISSED**"

    for res in results:
        s = summarise(res)
        n = res["name"]
        out.append(f"- ({n}) lsio {s['lsio'] / 1e9:.2f} GB/s = {s['vs_limit']:.2f}x of "
                   f"min(disk {s['fio'] / 1e9:.2f}, decode {fmt_rate(res['decode_limit'])}) "
                   f"(>= {TARGET_DISK_OR_DECODE}x: {v(s['vs_limit'] >= TARGET_DISK_OR_DECODE)})")
        peers = {k: s[k] for k in res["sides"] if not k.startswith("xarray")}
        if peers:
            best = max(peers, key=peers.get)
            ratio = s["lsio"] / peers[best]
            out.append(f"  - faster than every peer: fastest peer {best} "
                       f"{peers[best] / 1e9:.2f} GB/s, lsio {ratio:.2f}x ({v(ratio > 1)})")
        if n in TARGET_VS_DASK and "dask" in s:
            r = s["lsio"] / s["dask"]
            out.append(f"  - vs dask {r:.2f}x (>= {TARGET_VS_DASK[n]}x: "
                       f"{v(r >= TARGET_VS_DASK[n])})")
        out.append(f"  - lsio peak RSS {s['rss_lsio_mib']:.0f} MiB "
                   f"(<= {TARGET_RSS_MIB}: {v(s['rss_lsio_mib'] <= TARGET_RSS_MIB)})")
        slower = 1 / s["py_vs_cli"] - 1
        if "py_cli_tmpfs" in res:  # the verdict is the tmpfs one below; the disk swings
            out.append(f"  - on disk: lsio.stats takes {slower * 100:+.1f}% of the CLI's time "
                       f"(median of {len(res['rounds'])} rounds; the disk's swings dominate)")
        else:
            out.append(f"  - lsio.stats (Python) takes {slower * 100:+.1f}% of the CLI's time "
                       f"(within {TARGET_PY_VS_CLI * 100:.0f}%: "
                       f"{v(abs(slower) <= TARGET_PY_VS_CLI)})")
        if "xarray engine=lsio" in s and "xarray open_zarr" in s:
            a, b = s["xarray engine=lsio"], s["xarray open_zarr"]
            c = s.get("xarray engine=lsio chunks={}")
            out.append(f"  - xarray mean: open_dataset(engine='lsio') {a / 1e9:.2f} GB/s "
                       f"({a / b:.2f}x open_zarr's {b / 1e9:.2f} GB/s)"
                       + ("" if c is None else f"; with chunks={{}} {c / 1e9:.2f} GB/s "
                          f"({c / b:.2f}x open_zarr)"))
        if "py_cli_tmpfs" in res:
            t = res["py_cli_tmpfs"]
            slower = t["ratio"] - 1
            out.append(f"  - on tmpfs: lsio.stats takes {slower * 100:+.1f}% of the CLI's time "
                       f"(median of {len(t['rounds'])} alternating rounds, CLI "
                       f"{t['cli_median_s']:.2f} s, Python {t['py_median_s']:.2f} s; within "
                       f"{TARGET_PY_VS_CLI * 100:.0f}%: "
                       f"{v(abs(slower) <= TARGET_PY_VS_CLI)})")
    small = next((r for r in results if r["name"] == "1"), None)
    for fl in flat:
        if small is None:
            break
        a = max(r["lsio"]["rss_kib"] for r in small["rounds"]) / 1024
        b = fl["lsio"]["rss_kib"] / 1024
        growth = b / a - 1
        out.append(f"- peak RSS flat: {a:.0f} MiB on (1) 4 GiB, {b:.0f} MiB on {fl['name']} "
                   f"({growth * 100:+.1f}%, within {TARGET_RSS_FLAT * 100:.0f}%: "
                   f"{v(abs(growth) <= TARGET_RSS_FLAT and b <= TARGET_RSS_MIB)})")
    return out


def machine(cold: bool, args) -> dict:
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / (1 << 30)
    return {"cpu": cpu, "cores": os.cpu_count(), "mem_gib": mem, "kernel": platform.release(),
            "cold": cold, "rounds": args.rounds, "peer_rounds": args.peer_rounds}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lsio", default=os.path.join(ROOT, "build", "bin", "lsio"))
    ap.add_argument("--decode-limit", default=os.path.join(ROOT, "build", "bin", "decode_limit"))
    ap.add_argument("--data", default=os.path.join(ROOT, "data", "bench"))
    ap.add_argument("--var", default="t2m")
    ap.add_argument("--datasets", default="1,2,3,4")
    ap.add_argument("--flat", default="16g",
                    help="datasets run once more for the flat-RSS check against (1) ('' none)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--peer-rounds", type=int, default=1)
    ap.add_argument("--skip-xarray", action="store_true")
    ap.add_argument("--py-cli-rounds", type=int, default=6,
                    help="alternating CLI / lsio.stats rounds on a tmpfs copy (0: none)")
    ap.add_argument("--no-warmup", action="store_true",
                    help="do not read each dataset once before its measured runs")
    ap.add_argument("--markdown", help="also write the table to this file")
    ap.add_argument("--json", help="write every measurement to this file")
    args = ap.parse_args()

    for tool in (args.lsio, args.decode_limit):
        if not os.access(tool, os.X_OK):
            log(f"missing {tool}: build it first (make build)")
            return 1
    if shutil.which("fio") is None:
        log("fio is not installed")
        return 1
    names = [n for n in args.datasets.split(",") if n]
    flat_names = [n for n in args.flat.split(",") if n]
    for n in names + flat_names:
        if not os.path.isdir(os.path.join(args.data, f"{n}.zarr")):
            log(f"missing dataset {n}: bench/make_dataset.py --which {n} --out {args.data}")
            return 1
    cold = drop_caches()
    if not cold:
        log("cannot drop the page cache (not root): the numbers are warm-cache")
    device = device_of(args.data)
    meta = machine(cold, args)
    meta["load_start"] = os.getloadavg()[0]
    log(f"load average at start: {os.getloadavg()}")
    results = [run_dataset(n, args, device, cold) for n in names]
    flat = [run_flat(n, args, device, cold) for n in flat_names]
    meta["load_end"] = os.getloadavg()[0]
    text = table(results, flat, meta)
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text + "\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "results": results, "flat": flat}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
