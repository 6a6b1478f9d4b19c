"""Parity of exported artefacts with the Keras model: figures, tolerances and the check.

Each artefact enhances the same test mixture; its output is compared with the Keras model's by
the maximum absolute sample difference, the SI-SDR of one against the other and, because SI-SDR
forgives a wrong gain or sign (a silent or inverted artefact would pass), the plain SNR as well.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Callable

import numpy as np

from keras_denoiser.core.errors import UserError
from keras_denoiser.core.metrics import si_sdr, snr_db

# artefact -> (figure, bound): max_abs_diff must stay below; si_sdr_db (and snr_db) must reach at least.
TOLERANCES: dict[str, tuple[str, float]] = {
    "saved_model": ("max_abs_diff", 1e-4),
    "tflite_float32": ("max_abs_diff", 1e-4),
    "tflite_float16": ("si_sdr_db", 30.0),
    "tflite_dynamic": ("si_sdr_db", 20.0),
    "tflite_int8": ("si_sdr_db", 15.0),
    "streaming_tflite_float32": ("max_abs_diff", 1e-4),
    "streaming_tflite_int8": ("si_sdr_db", 15.0),
}


@dataclasses.dataclass(frozen=True)
class ParityRow:
    """One artefact's agreement with the Keras model on the test mixture, its size and speed."""

    artefact: str
    path: str
    max_abs_diff: float
    si_sdr_db: float | None
    snr_db: float | None
    size_bytes: int
    ms_per_second: float


class ParityError(UserError):
    """An artefact beyond its tolerance; carries the full table so the user sees every figure."""

    def __init__(self, message: str, table: str) -> None:
        super().__init__(message)
        self.table = table


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
    max_abs_diff = float(np.max(np.abs(output - reference))) if len(reference) else 0.0
    exact = max_abs_diff == 0.0
    return ParityRow(
        artefact=artefact,
        path=path,
        max_abs_diff=max_abs_diff,
        si_sdr_db=None if exact else round(si_sdr(reference, output), 2),
        snr_db=None if exact else round(snr_db(reference, output), 2),
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
    if figure == "si_sdr_db":
        for name, value in (("SI-SDR", row.si_sdr_db), ("SNR", row.snr_db)):
            if value is not None and not value >= bound:
                return f"parity: {row.artefact} {name} {value:.1f} dB < {bound:g} dB against the Keras model"
    return None
