"""`python -m tests.resume_probe STATE_DIR train --flags...`: the train CLI, recording where training starts.

It runs `keras_denoiser` unchanged, except that the first `Model.fit` call first writes the model's
weights and optimizer variables (the iteration count included) to `STATE_DIR/state-<pid>.npz`. The
resume tests compare that with the backup the run resumed from: counters in the log can say
"resuming at step 9" while the weights are freshly initialised.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import keras
import numpy as np


def training_state(model: keras.Model) -> dict[str, np.ndarray]:
    """Every model weight (batch-norm statistics too) and optimizer variable, by position."""
    weights = {f"weight_{i}": np.asarray(v.numpy()) for i, v in enumerate(model.weights)}
    slots = {f"optimizer_{i}": np.asarray(v.numpy()) for i, v in enumerate(model.optimizer.variables)}
    return {**weights, **slots, "iterations": np.asarray(model.optimizer.iterations.numpy())}


def main() -> None:
    state_dir = Path(sys.argv.pop(1))
    fit = keras.Model.fit

    def recording_fit(model: keras.Model, *args, **kwargs):
        path = state_dir / f"state-{os.getpid()}.npz"
        if not path.exists():
            np.savez(path, **training_state(model))
        return fit(model, *args, **kwargs)

    keras.Model.fit = recording_fit
    from keras_denoiser.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
