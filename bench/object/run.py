"""Object-storage benchmark (issue 14): `lsio stats` over s3:// (rclone serve s3, which checks
SigV4) and http:// (nginx), against zarr-python 3 + obstore and TensorStore's s3 kvstore
computing count/min/max/mean/std block by block as a careful user would, and against the
ceiling: curl's parallel GETs of the same objects run at the same time as `lsio stats` on the
local copy (server, transfer and decoding share the cores here, so neither alone is the limit).
Then 2,000 small chunks behind a proxy that adds 50 ms to every request, where the number of
requests in flight decides.

Every side runs as its own process; wall seconds (lsio: the whole process; the Python peers:
from after their imports), CPU seconds (the child's own rusage, imports included; the servers'
CPU is not counted) and peak RSS are reported; best of --repeat runs. Servers bind
127.0.0.1 and are stopped at the end.

    python bench/object/run.py --lsio build/bin/lsio [--mb 400] [--repeat 3] [--markdown F]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
KEY, SECRET = "AKIDLSIOBENCH", "bench/secret+KEY=0123456789"
PY = sys.executable


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, what: str) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not start")


def run_rusage(cmd, env=None) -> dict:
    """Wall, CPU seconds and peak RSS (MiB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    if code != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({code}): "
                           f"{err.decode(errors='replace')[-2000:]}")
    return {"stdout": out.decode(), "wall": wall, "cpu": ru.ru_utime + ru.ru_stime,
            "rss_mib": ru.ru_maxrss / 1024}


def write_stores(local: Path, mb: int) -> dict:
    """raw and blosc-zstd (v3, 4 MiB float32 chunks, ~mb MB each), and 2,000 chunks of 64 KiB."""
    import zarr
    from zarr.codecs import BloscCodec

    rng = np.random.default_rng(11)
    n = max(4, mb * 1_000_000 // (4 << 20))
    shape, chunks = (n, 1024, 1024), (1, 1024, 1024)
    stores = {}
    for name, comp in (("raw", None), ("zstd", BloscCodec(cname="zstd", clevel=3,
                                                          shuffle="shuffle"))):
        p = local / f"{name}.zarr"
        if not p.exists():
            a = zarr.create_array(p, shape=shape, chunks=chunks, dtype="f4",
                                  compressors=comp, fill_value=np.nan,
                                  dimension_names=["time", "y", "x"])
            # Smooth fields plus noise: compresses like model output (about 2x with blosc-zstd).
            base = np.sin(np.linspace(0, 20, 1024, dtype="f4"))[None, :] * \
                np.cos(np.linspace(0, 7, 1024, dtype="f4"))[:, None]
            for t in range(n):
                a[t] = base * (1 + 0.01 * t) + rng.normal(0, 0.05, (1024, 1024)).astype("f4")
        stores[name] = p
    p = local / "small.zarr"
    if not p.exists():
        a = zarr.create_array(p, shape=(2000, 128, 128), chunks=(1, 128, 128), dtype="f4",
                              compressors=None, fill_value=np.nan,
                              dimension_names=["time", "y", "x"])
        for t in range(0, 2000, 100):
            a[t:t + 100] = rng.normal(0, 1, (100, 128, 128)).astype("f4")
    stores["small"] = p
    return stores


def tree_bytes(p: Path) -> tuple[int, list[Path]]:
    files = [f for f in p.rglob("*") if f.is_file()]
    return sum(f.stat().st_size for f in files), files


PEER_ZARR = r"""
import json, sys, time, numpy as np, obstore, zarr
sys.path.insert(0, %(common)r)
from peer_common import BlockMoments
from zarr.storage import ObjectStore
t = time.perf_counter()
store = obstore.store.S3Store("bkt", prefix=%(prefix)r, endpoint=%(endpoint)r,
    access_key_id=%(key)r, secret_access_key=%(secret)r, region="us-east-1",
    client_options={"allow_http": True})
zarr.config.set({"async.concurrency": 64})
a = zarr.open_array(ObjectStore(store, read_only=True), mode="r")
m = BlockMoments()
step = 16
for s in range(0, a.shape[0], step):
    m.add(a[s:s + step])
print(json.dumps(dict(m.result(), seconds=time.perf_counter() - t)))
"""

PEER_TS = r"""
import json, sys, time, numpy as np, tensorstore as ts
sys.path.insert(0, %(common)r)
from peer_common import BlockMoments
t = time.perf_counter()
a = ts.open({"driver": "zarr3", "kvstore": {"driver": "s3", "bucket": "bkt",
    "path": %(prefix)r + "/", "endpoint": %(endpoint)r, "aws_region": "us-east-1",
    "aws_credentials": {"type": "environment"}},
    "context": {"data_copy_concurrency": {"limit": 2},
                "s3_request_concurrency": {"limit": 64}}}, read=True).result()
m = BlockMoments()
step = 16
for s in range(0, a.shape[0], step):
    m.add(a[s:min(s + step, a.shape[0])].read().result())
print(json.dumps(dict(m.result(), seconds=time.perf_counter() - t)))
"""


def lsio_json(out: str) -> dict:
    doc = json.loads(out)
    (v,) = doc["variables"].values()
    return v


def agree(a: dict, b: dict) -> bool:
    return a["count"] == b["count"] and a["min"] == b["min"] and a["max"] == b["max"] and \
        abs(a["mean"] - b["mean"]) <= 1e-6 * max(1.0, abs(b["mean"]))


def best(runs: list[dict]) -> dict:
    return min(runs, key=lambda r: r["wall"])


def ceiling(lsio: str, local: Path, files: list[Path], http: str, base: Path, env) -> dict:
    """curl's parallel GETs of every object, together with lsio stats on the local copy."""
    cfg = base / "curl.cfg"
    rel = [f.relative_to(local.parent.parent) for f in files]  # URLs: /bkt/NAME.zarr/...
    cfg.write_text("".join(f'url = "{http}/{r}"\noutput = "/dev/null"\n' for r in rel))
    start = time.perf_counter()
    curl = subprocess.Popen(["curl", "-sS", "--no-progress-meter", "--fail", "--parallel", "--parallel-max", "64",
                             "--config", str(cfg)])
    stats = subprocess.Popen([lsio, "stats", str(local), "--json", "--quiet"],
                             stdout=subprocess.DEVNULL, env=env)
    for p in (curl, stats):
        if p.wait() != 0:
            raise RuntimeError("ceiling side failed")
    return {"wall": time.perf_counter() - start, "cpu": float("nan"), "rss_mib": float("nan")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lsio", required=True)
    ap.add_argument("--mb", type=int, default=400)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--work-dir", default=None)
    ap.add_argument("--markdown", default=None)
    ap.add_argument("--json", default=None)
    ap.add_argument("--skip-peers", action="store_true")
    args = ap.parse_args()

    work = Path(args.work_dir or tempfile.mkdtemp(prefix="lsio-objbench-"))
    local = work / "bkt"
    local.mkdir(parents=True, exist_ok=True)
    stores = write_stores(local, args.mb)
    base = Path(tempfile.mkdtemp(prefix="lsio-objsrv-"))
    (base / "rclone.conf").write_text("")
    s3_port, http_port, proxy_port = free_port(), free_port(), free_port()
    rclone = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "rclone"), "serve", "s3", "--config",
         str(base / "rclone.conf"), "--addr", f"127.0.0.1:{s3_port}", "--auth-key",
         f"{KEY},{SECRET}", "--no-checksum", str(work)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    (base / "nginx.conf").write_text(
        f"daemon off; master_process off; worker_processes 1; pid {base}/nginx.pid;\n"
        f"error_log {base}/nginx.err warn; events {{ worker_connections 1024; }}\n"
        f"http {{ access_log off; keepalive_requests 100000; client_body_temp_path {base};\n"
        f"proxy_temp_path {base}; fastcgi_temp_path {base}; uwsgi_temp_path {base};\n"
        f"scgi_temp_path {base}; sendfile on;\n"
        f"server {{ listen 127.0.0.1:{http_port}; root {work}; }} }}\n")
    nginx = subprocess.Popen(["/usr/sbin/nginx", "-p", str(base), "-c", str(base / "nginx.conf")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proxy = subprocess.Popen([PY, str(HERE / "latency_proxy.py"), str(proxy_port),
                              str(http_port), "50"])
    endpoint = f"http://127.0.0.1:{s3_port}"
    env = {**os.environ, "AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET,
           "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": "us-east-1", "AWS_ALLOW_HTTP": "true"}
    http = f"http://127.0.0.1:{http_port}"
    results = {"machine": {"cores": os.cpu_count(), "load": os.getloadavg()},
               "date": time.strftime("%Y-%m-%d %H:%M"), "datasets": {}}
    try:
        wait_port(s3_port, rclone, "rclone serve s3")
        wait_port(http_port, nginx, "nginx")
        wait_port(proxy_port, proxy, "latency proxy")
        for name in ("raw", "zstd"):
            p = stores[name]
            nbytes, files = tree_bytes(p)
            log(f"== {name}: {nbytes / 1e6:.0f} MB in {len(files)} objects")
            ref = lsio_json(run_rusage([args.lsio, "stats", str(p), "--json", "--quiet"])
                            ["stdout"])
            sides = {
                "lsio s3": [args.lsio, "stats", f"s3://bkt/{p.name}", "--json", "--quiet"],
                "lsio http": [args.lsio, "stats", f"{http}/bkt/{p.name}", "--json", "--quiet"],
            }
            if not args.skip_peers:
                common = str(ROOT / "bench" / "stats")
                fill = dict(common=common, prefix=f"{p.name}", endpoint=endpoint, key=KEY,
                            secret=SECRET)
                sides["zarr-python + obstore"] = [PY, "-c", PEER_ZARR % fill]
                sides["TensorStore s3"] = [PY, "-c", PEER_TS % fill]
            row = {"bytes": nbytes, "objects": len(files), "sides": {}}
            for side, cmd in sides.items():
                runs = []
                for _ in range(args.repeat):
                    r = run_rusage(cmd, env=env)
                    out = r.pop("stdout")
                    got = lsio_json(out) if side.startswith("lsio") else json.loads(out)
                    if not side.startswith("lsio"):
                        # Peers: their own timing from after the imports (interpreter start-up
                        # and importing zarr/TensorStore left out); lsio: the whole process.
                        r["wall"] = got["seconds"]
                    r["agrees"] = agree(got, ref)
                    runs.append(r)
                b = best(runs)
                b["gbps"] = nbytes / b["wall"] / 1e9
                b["cpu_s_per_gb"] = b["cpu"] / (nbytes / 1e9)
                row["sides"][side] = b
                log(f"  {side:24s} {b['wall']:6.2f} s  {b['gbps']:5.2f} GB/s  "
                    f"{b['cpu_s_per_gb']:5.2f} CPU s/GB  {b['rss_mib']:6.0f} MiB  "
                    f"agrees={b['agrees']}")
            c = best([ceiling(args.lsio, p, files, http, base, env) for _ in range(args.repeat)])
            c["gbps"] = nbytes / c["wall"] / 1e9
            row["sides"]["ceiling (curl || lsio local)"] = c
            log(f"  {'ceiling':24s} {c['wall']:6.2f} s  {c['gbps']:5.2f} GB/s")
            results["datasets"][name] = row
        # 2,000 chunks, 50 ms per request.
        p = stores["small"]
        nbytes, files = tree_bytes(p)
        proxied = f"http://127.0.0.1:{proxy_port}/bkt/{p.name}"
        ref = lsio_json(run_rusage([args.lsio, "stats", str(p), "--json", "--quiet"])["stdout"])
        runs = []
        for _ in range(args.repeat):
            r = run_rusage([args.lsio, "stats", proxied, "--json", "--quiet"], env=env)
            r["agrees"] = agree(lsio_json(r.pop("stdout")), ref)
            runs.append(r)
        b = best(runs)
        results["latency"] = {"objects": len(files), "bytes": nbytes, "delay_ms": 50, **b}
        log(f"== {len(files)} objects at 50 ms: lsio http {b['wall']:.2f} s "
            f"(target <= 8 s), agrees={b['agrees']}")
    finally:
        for p in (proxy, rclone, nginx):
            p.terminate()
        for p in (proxy, rclone, nginx):
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(base, ignore_errors=True)
        if not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)

    md = ["| dataset | side | s | GB/s | CPU s/GB | peak RSS MiB | vs ceiling | agrees |",
          "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for name, row in results["datasets"].items():
        ceil = row["sides"]["ceiling (curl || lsio local)"]["gbps"]
        for side, b in row["sides"].items():
            md.append(f"| {name} ({row['bytes'] / 1e6:.0f} MB, {row['objects']} objects) | "
                      f"{side} | {b['wall']:.2f} | {b['gbps']:.2f} | "
                      f"{b.get('cpu_s_per_gb', float('nan')):.2f} | {b['rss_mib']:.0f} | "
                      f"{b['gbps'] / ceil:.2f}x | {b.get('agrees', '')} |")
        s = row["sides"]
        if "zarr-python + obstore" in s:
            for peer in ("zarr-python + obstore", "TensorStore s3"):
                md.append(f"| {name} | lsio s3 / {peer} | | "
                          f"{s['lsio s3']['gbps'] / s[peer]['gbps']:.2f}x | | | | |")
    lat = results["latency"]
    md.append(f"| {lat['objects']} objects, +50 ms per request | lsio http | {lat['wall']:.2f} "
              f"| | | {lat['rss_mib']:.0f} | target <= 8 s | {lat['agrees']} |")
    text = "\n".join(md)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
