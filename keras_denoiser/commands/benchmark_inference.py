"""Time the streaming models against the streaming peers per hop, on one CPU thread, side by side.

    keras_denoiser benchmark inference                          # random-weight default size (3x16)
    keras_denoiser benchmark inference --sizes=3x16,2x16,2x8    # which size fits a budget
    keras_denoiser benchmark inference --model=runs/causal --peers=dtln,gtcrn --json_out=bench.json
    keras_denoiser benchmark inference --model=tflite_demo/models --peers=gtcrn,dtln   # the bundled models

Ours: the streaming int8 and float32 TFLite models on LiteRT (8 ms hops; 16 ms for a model trained
with --hop_length=256). Peers: DTLN's two published ONNX models (8 ms hops) and GTCRN's streaming
ONNX graph (16 ms hops) on onnxruntime, DeepFilterNet3 on libDF (10 ms hops at 48 kHz). Each hop
includes the STFT, the model call(s) and the overlap-add. Prints each system's hop, ms per hop
(median, p99), the real-time factor (the fair comparison across hop sizes) and the model size.
Speed does not depend on the weights, so without --model random-weight models of --sizes are
exported and timed.
"""

from __future__ import annotations

import dataclasses
import os
import platform
from typing import Sequence

from absl import flags, logging

from keras_denoiser.commands import json_out, model_flag
from keras_denoiser.core.errors import UserError

FLAGS = flags.FlagValues()  # this command's own flags: another command's never meet them
json_out.define_json_out_flag(FLAGS)
model_flag.define_model_flag(
    FLAGS,
    also=" of a causal network (exported to streaming TFLite first), or a folder holding "
    "NAME_float32.tflite/NAME_int8.tflite streaming exports with their .json sidecars (every NAME in it is timed, "
    "e.g. tflite_demo/models)",
    default="random weights (--sizes)",
)
flags.DEFINE_list(
    "sizes", ["3x16"], "Causal U-Net sizes DEPTHxBASE_FILTERS to time when --model is not given; default 3x16.",
    flag_values=FLAGS,
)
flags.DEFINE_float(
    "seconds", 10.0, "Length of the generated test signal in seconds (1250 hops per 10 s); default 10.", flag_values=FLAGS
)
flags.DEFINE_list(
    "peers", ["dtln", "deepfilternet3", "gtcrn"],
    "Streaming peers to time too (each needs its part of the peers extra; one that is not installed is noted "
    "and skipped); empty for none; default dtln,deepfilternet3,gtcrn.",
    flag_values=FLAGS,
)


def main(argv: Sequence[str]) -> int:
    """Run the timings and print the table."""
    from keras_denoiser.benchmarks.inference import NUM_THREADS, benchmark_inference, parse_size, table_lines

    json_out.check(FLAGS.json_out)
    if FLAGS.seconds < 1.0:
        raise UserError("--seconds must be at least 1")
    logging.set_verbosity(logging.WARNING)
    sizes = [parse_size(text) for text in FLAGS.sizes]
    rows, notes = benchmark_inference(FLAGS.model, sizes, FLAGS.seconds, FLAGS.peers)
    print(f"one thread per runtime, {FLAGS.seconds:g} s signal, each system at its own hop (STFT + model + overlap-add per hop)")
    print("\n".join(table_lines(rows)))
    for note in notes:
        print(note)
    json_out.write(
        FLAGS.json_out,
        {
            "threads": NUM_THREADS,
            "seconds": FLAGS.seconds,
            "machine": {"processor": platform.processor() or platform.machine(), "cpu_count": os.cpu_count()},
            "rows": [dataclasses.asdict(row) for row in rows],
            "notes": notes,
        }
    )
    return 0
