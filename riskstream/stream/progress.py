"""A progress bar with throughput for long runs, shown only on an interactive terminal."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["progress_bar"]


def _interactive() -> bool:
    return sys.stderr.isatty() and os.environ.get("CI", "").lower() != "true"


@contextmanager
def progress_bar(total: int | None, label: str) -> Iterator[Callable[[int], None] | None]:
    """Yields an ``advance(n)`` callback, or None when there is no terminal to draw on."""
    if not total or not _interactive():
        yield None
        return
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=True) as progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)
