"""Progress on a terminal, silence elsewhere: the one place that decides how work is shown.

A bar goes to stderr only when stderr is a terminal (tqdm's `disable=None`); in a log file or a pipe
there is no bar, and the commands print their usual lines. `AudioProgress` counts seconds of
audio, not files, so a long file moves the bar too.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Callable, Iterable, Iterator, Sequence, TypeVar

import soundfile as sf
from tqdm import tqdm

T = TypeVar("T")


def bar(items: Iterable[T], desc: str, unit: str = "file", total: int | None = None) -> Iterator[T]:
    """`items`, with a bar named `desc` on a terminal."""
    return iter(tqdm(items, desc=desc, unit=unit, total=total, disable=None, file=sys.stderr, dynamic_ncols=True))


def write(line: str) -> None:
    """Print a line to stderr without breaking a bar that is on the terminal."""
    tqdm.write(line, file=sys.stderr)


def steps(desc: str) -> Callable[[str], None]:
    """A callback that prints `desc: NAME done (i, elapsed)` per finished step on a terminal, nothing elsewhere:
    for work in a few long steps (export's conversions), where a bar would stand still."""
    start, count = time.monotonic(), 0

    def done(name: str) -> None:
        nonlocal count
        count += 1
        if _on_terminal():
            write(f"{desc}: {name} built and checked ({count} so far, {time.monotonic() - start:.0f} s)")

    return done


def _on_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class AudioProgress:
    """One bar over the seconds of audio of `paths`, for a run that works through them in order.

    `files` wraps the run's loop (it names the file in work and, after each one, puts the bar at that
    file's end, also when the file failed or was skipped); `advance` moves it within a file.
    """

    def __init__(self, paths: Sequence[os.PathLike[str] | str], desc: str) -> None:
        self._seconds = [_duration(path) for path in paths]
        self._bar = tqdm(total=round(sum(self._seconds), 1), desc=desc, unit="s", disable=None, file=sys.stderr,
                         dynamic_ncols=True, bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s audio [{elapsed}<{remaining}]{postfix}")
        self._end = 0.0

    def files(self, items: Sequence[T]) -> Iterator[T]:
        """`items` (one per path), moving the bar to each one's end when the caller is done with it."""
        try:
            for index, (item, seconds) in enumerate(zip(items, self._seconds)):
                self._bar.set_postfix_str(f"file {index + 1}/{len(items)}", refresh=False)
                self._end += seconds
                yield item
                self._bar.update(max(0.0, self._end - self._bar.n))
        finally:
            self._bar.close()

    def advance(self, seconds: float) -> None:
        """`seconds` more of the current file are done (never past its end)."""
        self._bar.update(max(0.0, min(seconds, self._end - self._bar.n)))


def _duration(path: os.PathLike[str] | str) -> float:
    """Seconds of audio in `path`; 0 when it cannot be read (it is reported when its turn comes)."""
    try:
        info = sf.info(str(path))
        return info.frames / info.samplerate if info.samplerate > 0 else 0.0
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError, TypeError):
        return 0.0
