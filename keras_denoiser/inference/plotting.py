"""Spectrogram figures: noisy input, enhanced output and the estimated mask (matplotlib, Agg)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from keras_denoiser.core.config import SignalConfig

DB_FLOOR = -100.0


def save_spectrogram_plot(
    path: str | os.PathLike[str], noisy_magnitude: np.ndarray, mask: np.ndarray, signal: SignalConfig, title: str
) -> None:
    """Write a PNG with three panels `[frames, bins]`: noisy dB, enhanced dB (mask x noisy), mask."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    seconds = noisy_magnitude.shape[0] * signal.hop_length / signal.sample_rate
    extent = (0.0, seconds, 0.0, signal.sample_rate / 2000)
    noisy_db = _db(noisy_magnitude)
    enhanced_db = _db(noisy_magnitude * mask)
    low, high = max(noisy_db.max() - 80.0, DB_FLOOR), noisy_db.max()
    fig, axes = plt.subplots(3, 1, figsize=(10, 8), sharex=True, constrained_layout=True)
    panels = [("noisy (dB)", noisy_db, low, high, "magma"), ("enhanced (dB)", enhanced_db, low, high, "magma"),
              ("mask", mask, 0.0, 1.0, "viridis")]
    for ax, (label, image, vmin, vmax, cmap) in zip(axes, panels):
        shown = ax.imshow(image.T, origin="lower", aspect="auto", extent=extent, vmin=vmin, vmax=vmax, cmap=cmap)
        ax.set_ylabel("kHz")
        ax.set_title(label)
        fig.colorbar(shown, ax=ax)
    axes[-1].set_xlabel("seconds")
    fig.suptitle(title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    fig.savefig(tmp, dpi=80, format="png")
    plt.close(fig)
    tmp.replace(path)


def _db(magnitude: np.ndarray) -> np.ndarray:
    return 20.0 * np.log10(np.maximum(magnitude, 10 ** (DB_FLOOR / 20)))
