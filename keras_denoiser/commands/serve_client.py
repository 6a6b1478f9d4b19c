"""Denoise an audio file through a TF Serving REST endpoint serving an exported model.

    keras_denoiser serve_client --url=http://localhost:8501/v1/models/denoiser:predict noisy.wav clean.wav

Any readable audio file: each channel is resampled to the model rate, sent in grid-aligned chunks
with context on both sides, stitched, resampled back and written at the input's rate and length.
"""

from __future__ import annotations

from typing import Sequence

from absl import flags

from keras_denoiser.core.errors import UserError
from keras_denoiser.inference import serve_client

FLAGS = flags.FlagValues()  # this command's own flags: another command's never meet them
flags.DEFINE_string(
    "url", None, "REST predict URL, e.g. http://localhost:8501/v1/models/denoiser:predict.", flag_values=FLAGS
)
flags.DEFINE_integer(
    "model_rate", 16000, "Sample rate in Hz the served model expects; default 16000.", lower_bound=1, flag_values=FLAGS
)
flags.DEFINE_float(
    "chunk_seconds", 4.0, "Audio kept from each request in seconds, rounded up to 0.512 s steps; default 4.",
    flag_values=FLAGS,
)
flags.DEFINE_float(
    "context_seconds",
    0.5,
    "Extra audio sent on each side of a chunk in seconds, rounded up to 0.512 s steps; must cover the "
    "model's receptive field (0.5 does for U-Net depth <= 3); default 0.5.",
    flag_values=FLAGS,
)
flags.DEFINE_float("timeout_seconds", 60.0, "Seconds to wait for each response; default 60.", flag_values=FLAGS)
flags.mark_flag_as_required("url", flag_values=FLAGS)
flags.register_validator("chunk_seconds", lambda value: value > 0, "must be positive", flag_values=FLAGS)
flags.register_validator("context_seconds", lambda value: value >= 0, "must not be negative", flag_values=FLAGS)
flags.register_validator("timeout_seconds", lambda value: value > 0, "must be positive", flag_values=FLAGS)


def main(argv: Sequence[str]) -> int:
    if len(argv) != 3:
        raise UserError("usage: keras_denoiser serve_client --url=URL INPUT OUTPUT")
    serve_client.enhance_file(
        argv[1],
        argv[2],
        FLAGS.url,
        transport=serve_client.http_transport(FLAGS.timeout_seconds),
        model_rate=FLAGS.model_rate,
        chunk_seconds=FLAGS.chunk_seconds,
        context_seconds=FLAGS.context_seconds,
    )
    print(f"wrote {argv[2]}")
    return 0
