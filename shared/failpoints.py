"""Failpoints: named places where a test can make the process die, to prove recovery.

``PARTNERHUB_FAILPOINTS=after_store,after_publish`` makes the process exit at
once (``os._exit``: no cleanup, no flush, like SIGKILL) the first time it
reaches each named point. ``PARTNERHUB_FAILPOINT_DIR`` holds one marker file
per point that has fired, so a restarted process runs through. Unset in
production, a failpoint costs one dictionary lookup.
"""

from __future__ import annotations

import os
from pathlib import Path

_ARMED = frozenset(filter(None, os.environ.get("PARTNERHUB_FAILPOINTS", "").split(",")))
_MARKERS = Path(os.environ.get("PARTNERHUB_FAILPOINT_DIR", ".local/failpoints"))
CRASH_EXIT_CODE = 137


def failpoint(name: str) -> None:
    if name not in _ARMED:
        return
    marker = _MARKERS / name
    if marker.exists():
        return
    _MARKERS.mkdir(parents=True, exist_ok=True)
    marker.touch()
    os._exit(CRASH_EXIT_CODE)
