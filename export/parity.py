"""Parity of exported artefacts with the Keras model: figures, tolerances and the check.

Each artefact enhances the same test mixture; its output is compared with the Keras model's by
the maximum absolute sample difference and by the SI-SDR of one against the other.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Callable

import numpy as np

from keras_denoiser.errors import UserError

# artefact -> (figure, bound): max_abs_diff must stay below, si_sdr_db must reach at least.
TOLERANCES: dict[str, tuple[str, float]] = {
    "saved_model": ("max_abs_diff", 1e-4),
    "tflite_float32": ("max_abs_diff", 1e-4),
    "tflite_float16": ("si_sdr_db", 30.0),
    "tflite_dynamic": ("si_sdr_db", 20.0),
    "tflite_int8": ("si_sdr_db", 15.0),
}


@dataclasses.dataclass(frozen=True)
class ParityRow:
    """One artefact's agreement with the Keras model on the test mixture, its size and speed."""

    artefact: str
    path: str
    max_abs_diff: float
    si_sdr_db: float | None
    size_bytes: int
    ms_per_second: float


class ParityError(UserError):
    """An artefact beyond its tolerance; carries the full table so the user sees every figure."""

    def __init__(self, message: str, table: str) -> None:
        super().__init__(message)
        self.table = table


def si_sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Scale-invariant SDR of `estimate` against `reference`, in dB (inf when identical up to scale)."""
    reference = reference.astype(np.float64)
    estimate = estimate.astype(np.float64)
    scale = np.dot(estimate, reference) / (np.dot(reference, reference) + 1e-20)
    target = scale * reference
    error = estimate - target
    error_power = np.dot(error, error)
    if error_power == 0:
        return float("inf")
    return float(10 * np.log10(np.dot(target, target) / error_power))


def timed(enhance: Callable[[np.ndarray], np.ndarray], wave: np.ndarray) -> tuple[np.ndarray, float]:
    """Output of `enhance(wave)` and the seconds the second call took (the first one warms up)."""
    enhance(wave)
    start = time.perf_counter()
    out = enhance(wave)
    return np.asarray(out, np.float32), time.perf_counter() - start


def compare(
    artefact: str, path: str, reference: np.ndarray, output: np.ndarray, size_bytes: int, seconds: float, rate: int
) -> ParityRow:
    """The parity row of `output` against the Keras `reference` (both 1-D at `rate`)."""
    if output.shape != reference.shape:
        raise UserError(f"parity: {artefact} returned shape {output.shape}, expected {reference.shape}")
    sdr = si_sdr(reference, output)
    return ParityRow(
        artefact=artefact,
        path=path,
        max_abs_diff=float(np.max(np.abs(output - reference))) if len(reference) else 0.0,
        si_sdr_db=None if np.isinf(sdr) else round(sdr, 2),
        size_bytes=size_bytes,
        ms_per_second=1000 * seconds / (len(reference) / rate),
    )


def failure(row: ParityRow) -> str | None:
    """One line naming the artefact and the figure beyond its tolerance, or None when within."""
    if row.artefact not in TOLERANCES:
        return None
    figure, bound = TOLERANCES[row.artefact]
    if figure == "max_abs_diff" and not row.max_abs_diff < bound:
        return f"parity: {row.artefact} max abs diff {row.max_abs_diff:.3g} >= {bound:g} against the Keras model"
    if figure == "si_sdr_db" and row.si_sdr_db is not None and not row.si_sdr_db >= bound:
        return f"parity: {row.artefact} SI-SDR {row.si_sdr_db:.1f} dB < {bound:g} dB against the Keras model"
    return None
