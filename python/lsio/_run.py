"""Running a blocking call into the extension so that Ctrl-C interrupts it promptly."""

from __future__ import annotations

import threading
from typing import Any, Callable

from . import _lsio


def run_cancellable(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Calls ``fn(*args, cancel=token, **kwargs)``.

    On the main thread the call runs on a helper thread while the main thread waits, so that
    Ctrl-C is seen at once: the token is set, the call stops within about 20 ms, the helper
    thread is joined (nothing keeps running), and KeyboardInterrupt propagates. On other threads
    (dask workers) the call simply runs there.
    """
    token = _lsio.CancelToken()
    if threading.current_thread() is not threading.main_thread():
        return fn(*args, cancel=token, **kwargs)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = fn(*args, cancel=token, **kwargs)
        except BaseException as e:  # handed to the caller below
            box["error"] = e

    worker = threading.Thread(target=target, name="lsio-call", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.05)
    except KeyboardInterrupt:
        token.cancel()
        worker.join()
        raise
    if "error" in box:
        raise box["error"]
    return box["result"]
