"""Errors that reach the user as one line, never as a traceback."""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix (bad flag, bad file); the CLI prints it as one line."""


class AudioFileError(UserError):
    """An audio file that cannot be used, with the file and the reason."""

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


def os_error_line(err: OSError) -> str:
    """`FILE: reason` for an OSError (a folder that is a file, a full disk), or its own text when it names no file."""
    if err.filename is None or not err.strerror:
        return str(err)
    return f"{err.filename}: {err.strerror}"
