"""Local object-storage servers for the tests: `rclone serve s3` (checks SigV4 signatures) and
nginx (plain HTTP ranges), bound to 127.0.0.1 and stopped when the context ends."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KEY, SECRET = "AKIDLSIOE2E", "e2e/secret+KEY=0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port: int, proc: subprocess.Popen, what: str) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not start")


@contextlib.contextmanager
def object_servers(base: Path, s3_root: Path, www_root: Path):
    """rclone serving s3_root's directories as buckets and nginx serving www_root; yields
    (s3_endpoint, http_base)."""
    (base / "rclone.conf").write_text("")
    s3_port, http_port = free_port(), free_port()
    rclone = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "rclone"), "serve", "s3", "--config",
         str(base / "rclone.conf"), "--addr", f"127.0.0.1:{s3_port}", "--auth-key",
         f"{KEY},{SECRET}", "--no-checksum", str(s3_root)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    (base / "nginx.conf").write_text(
        f"daemon off; master_process off; worker_processes 1; pid {base}/nginx.pid;\n"
        f"error_log {base}/nginx.err warn; events {{ worker_connections 256; }}\n"
        f"http {{ access_log off; client_body_temp_path {base}; proxy_temp_path {base};\n"
        f"fastcgi_temp_path {base}; uwsgi_temp_path {base}; scgi_temp_path {base};\n"
        f"server {{ listen 127.0.0.1:{http_port}; root {www_root}; }} }}\n")
    nginx = subprocess.Popen(["/usr/sbin/nginx", "-p", str(base), "-c", str(base / "nginx.conf")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(s3_port, rclone, "rclone serve s3")
        wait_for(http_port, nginx, "nginx")
        yield f"http://127.0.0.1:{s3_port}", f"http://127.0.0.1:{http_port}"
    finally:
        rclone.terminate()
        nginx.terminate()
        rclone.wait(10)
        nginx.wait(10)
