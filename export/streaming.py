"""Streaming export of the causal U-Net: one STFT frame in, one mask frame out, explicit state.

    from keras_denoiser.export.streaming import export_streaming
    export_streaming("runs/causal/model.keras", "exported/streaming")
    # -> unet_causal_float32.tflite/.json, unet_causal_int8.tflite/.json

The per-frame model is `keras_denoiser.model.CausalStep`, defined beside the model from the same
topology and the trained layers: every causal convolution is applied 'valid' to the concatenation
of its state (the last k-1 input frames it saw) and the new frame, and returns the updated state,
so frame-by-frame processing equals the model on the whole spectrogram. This module gives the step
named tensors (`log_magnitude`, `state_<i>` -> `mask`, `next_state_<i>`), converts it and runs it
frame by frame with the app's state loop (`tflite_demo.state_loop`), in TF and on LiteRT alike.

Each .tflite gets a JSON sidecar with the signal parameters and the state tensors, so an app
(see `tflite_demo`) needs nothing of this package.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import keras
import numpy as np
import tensorflow as tf

from keras_denoiser.core import features
from keras_denoiser.core.atomic import write_bytes_atomic
from keras_denoiser.core.config import ModelConfig, SignalConfig, TrainConfig
from keras_denoiser.core.errors import UserError
from keras_denoiser.export import mixture, tflite
from keras_denoiser.model.compact import fold_input_norm
from keras_denoiser.model.model_io import load_model
from keras_denoiser.model.network import CausalStep
from tflite_demo.sidecar import StateTensor, StreamSpec, output_delay
from tflite_demo.state_loop import FunctionStep, StateLoop, open_stream

QUANTIZATIONS = ("float32", "int8")
FRAME_INPUT = "log_magnitude"
MASK_OUTPUT = "mask"
# Calibration: at most this many frames (with their states) are fed to the int8 converter.
MAX_CALIBRATION_FRAMES = 2000


class StreamingUNet:
    """The model's `CausalStep` as a TFLite-ready function: named inputs, named outputs, traced once."""

    def __init__(self, model: keras.Model, model_cfg: ModelConfig, signal_cfg: SignalConfig) -> None:
        model = fold_input_norm(model)  # int8 then stacks the band features on one range
        self.step = CausalStep(model, model_cfg, signal_cfg)
        self.model = model
        self.model_cfg = model_cfg
        self.signal_cfg = signal_cfg
        self.states = [
            StateTensor(f"state_{i}", f"next_state_{i}", s.shape, s.conv) for i, s in enumerate(self.step.states)
        ]
        self.spec = StreamSpec(  # float32, no attenuation limit: the sidecar sets both per file
            sample_rate=signal_cfg.sample_rate,
            frame_length=signal_cfg.frame_length,
            hop_length=signal_cfg.hop_length,
            log_epsilon=features.LOG_EPSILON,
            output_delay_samples=output_delay(signal_cfg.frame_length, signal_cfg.hop_length, model_cfg.lookahead_frames),
            input_name=FRAME_INPUT,
            mask_name=MASK_OUTPUT,
            states=tuple(self.states),
            quantization="float32",
            lookahead_frames=model_cfg.lookahead_frames,
        )
        self._traced_serve = tf.function(self.serve, input_signature=self.input_signature())

    def input_signature(self) -> list[tf.TensorSpec]:
        """Named inputs of the step: the frame, then every state."""
        specs = [tf.TensorSpec([1, 1, self.signal_cfg.num_bins], tf.float32, name=FRAME_INPUT)]
        return specs + [tf.TensorSpec(s.shape, tf.float32, name=s.input_name) for s in self.states]

    def serve(self, frame: tf.Tensor, *states: tf.Tensor) -> dict[str, tf.Tensor]:
        """The step with named outputs: `mask` and `next_state_<i>` (the TFLite signature)."""
        mask, next_states = self.step(frame, states)
        return {MASK_OUTPUT: mask, **{s.output_name: t for s, t in zip(self.states, next_states)}}

    def run_step(self, **inputs: np.ndarray) -> dict[str, tf.Tensor]:
        """One step in TF on named arrays (the TFLite signature's names)."""
        return self._traced_serve(inputs[FRAME_INPUT], *(inputs[s.input_name] for s in self.states))

    def run(self, log_mag: np.ndarray) -> np.ndarray:
        """Masks `[frames, bins]` of a log-magnitude spectrogram `[frames, bins]`, frame by frame."""
        return StateLoop(FunctionStep(self.run_step), self.spec).masks(log_mag)


def calibration_inputs(
    run_step: Callable[..., Mapping[str, Any]], spec: StreamSpec, log_mags: Sequence[np.ndarray], limit: int
) -> Iterator[dict[str, np.ndarray]]:
    """Up to `limit` frames of real streams, each with the states its stream had then, by input name.

    Every stream runs to its end (and its closing silence) and every k-th frame is kept, so the
    converter sees all the mixtures and their states late in a stream, not just the first few.
    The frames are made as they are asked for: a large model's states (megabytes a frame) are never
    all held at once. `run_step` maps named inputs to named outputs (the TF step, or LiteRT's runner).
    """
    stride = max(1, math.ceil(sum(len(s) + spec.lookahead_frames for s in log_mags) / limit))
    step = FunctionStep(run_step)
    loop = StateLoop(step, spec)
    streamed = (step.seen for log_mag in log_mags for _ in loop.frames(log_mag))
    return itertools.islice(streamed, 0, None, stride)



def log_magnitude_frames(wave: np.ndarray, signal_cfg: SignalConfig) -> np.ndarray:
    """Log-magnitude `[frames, bins]` of a mono waveform, exactly as training computes it."""
    return features.log_magnitude(features.stft(np.asarray(wave, np.float32), signal_cfg)).numpy()


def calibration_waves(signal_cfg: SignalConfig, count: int = 4, seconds: float = 3.0) -> list[np.ndarray]:
    """Generated speech-like mixtures at 0-15 dB SNR: int8 calibration when no audio is given."""
    snrs = np.linspace(0.0, 15.0, count)
    return [mixture.generated_mixture(seconds, signal_cfg.sample_rate, seed, snr) for seed, snr in enumerate(snrs)]


def convert(
    streaming: StreamingUNet, quantizations: Sequence[str], log_mags: Sequence[np.ndarray] = ()
) -> dict[str, bytes]:
    """TFLite flatbuffers of the step, builtin ops only; int8 keeps float32 inputs, outputs and states.

    int8 is calibrated on frames of the streams `log_mags` (log-magnitude `[frames, bins]`) with
    their states, streamed on the float32 flatbuffer: LiteRT takes milliseconds a hop where the TF
    step takes tens, and its states equal TF's to float precision (test_streaming holds them so).
    """
    unknown = set(quantizations) - set(QUANTIZATIONS)
    if unknown:
        raise UserError(f"unknown streaming quantization {sorted(unknown)}; choose from {', '.join(QUANTIZATIONS)}")
    from ai_edge_litert.interpreter import Interpreter

    signature = streaming.input_signature()
    float_model = tflite.convert_to_tflite(streaming.model, "float32", fn=streaming.serve, input_signature=signature)
    models = {"float32": float_model}
    if "int8" in quantizations:
        if not log_mags:
            raise UserError("int8 streaming export needs representative audio")
        interpreter = Interpreter(model_content=float_model)
        samples = calibration_inputs(interpreter.get_signature_runner(), streaming.spec, log_mags, MAX_CALIBRATION_FRAMES)
        # The converter feeds calibration lists in the model's input-tensor order, not the signature's.
        order = [_signature_name(d["name"]) for d in interpreter.get_input_details()]
        examples = ([sample[name] for name in order] for sample in samples)
        models["int8"] = tflite.convert_to_tflite(
            streaming.model, "int8", examples, fn=streaming.serve, input_signature=signature
        )
    return {q: models[q] for q in quantizations}


def _signature_name(tensor_name: str) -> str:
    """`serving_default_state_3:0` -> `state_3`."""
    return tensor_name.removeprefix("serving_default_").split(":")[0]


def sidecar(streaming: StreamingUNet, quantization: str, representative: str, max_attenuation_db: float) -> dict:
    """What an app needs to drive the model (`tflite_demo.sidecar.StreamSpec`), and what the network is."""
    model = streaming.model_cfg
    spec = dataclasses.replace(streaming.spec, quantization=quantization, max_attenuation_db=max_attenuation_db)
    return spec.to_json(
        model=model.name,
        depth=model.depth,
        base_filters=model.base_filters,
        kernel_size=model.kernel_size,
        context_layers=model.context_layers,
        band_context_layers=model.band_context_layers,  # no state: they see one frame
        representative=representative if quantization == "int8" else None,
    )


class StreamingTFLiteMasker:
    """Runs a streaming .tflite frame by frame with its states: log-magnitude `[frames, bins]` -> mask.

    The same callable shape as `tflite.TFLiteMasker`, so `tflite.enhance_with_tflite` drives either;
    the exporter's parity check runs the written file with it, read through its sidecar and run by
    the app's own state loop (`tflite_demo.state_loop`), as a device runs it.
    """

    def __init__(self, path: str | os.PathLike[str], num_threads: int = 1) -> None:
        self._loop = open_stream(Path(path), num_threads)

    def __call__(self, log_magnitude: np.ndarray) -> np.ndarray:
        return self._loop.masks(log_magnitude)


def write_streaming(
    streaming: StreamingUNet,
    out_dir: Path,
    quantizations: Sequence[str],
    log_mags: Iterable[np.ndarray],
    source: str,
    max_attenuation_db: float,
) -> dict[str, Path]:
    """Write `<model>_<quantization>.tflite` and its `.json` sidecar per quantization; return the paths.

    `log_mags`: log-magnitude spectrograms `[frames, bins]` that calibrate int8 (`source` says what they are).
    The sidecar carries `max_attenuation_db`, the limit apps apply to the mask by default.
    """
    calibration = list(log_mags) if "int8" in quantizations else []
    written = {}
    for quantization, flatbuffer in convert(streaming, quantizations, calibration).items():
        path = out_dir / f"{streaming.model_cfg.name}_{quantization}.tflite"
        write_bytes_atomic(path, flatbuffer)
        meta = sidecar(streaming, quantization, source, max_attenuation_db)
        write_bytes_atomic(path.with_suffix(".json"), (json.dumps(meta, indent=2) + "\n").encode())
        written[quantization] = path
    return written


def export_streaming(
    model_path_or_model: str | os.PathLike[str] | keras.Model,
    out_dir: str | os.PathLike[str],
    quantizations: Sequence[str] = QUANTIZATIONS,
    representative: Iterable[np.ndarray] | None = None,
    train_config: TrainConfig | None = None,
    max_attenuation_db: float | None = None,
) -> dict[str, Path]:
    """Write `<model>_<quantization>.tflite` and its `.json` sidecar per quantization; return the paths.

    `model_path_or_model`: a `.keras` file or model folder (its config is read beside it), or a
    Keras model together with `train_config`. `representative`: mono waveforms at the model's
    sample rate used to calibrate int8 (default: generated speech-like mixtures, noted in the sidecar).
    `max_attenuation_db`: the sidecar's default limit; None takes the model's own (its config).
    """
    if isinstance(model_path_or_model, keras.Model):
        if train_config is None:
            raise UserError("export_streaming needs the TrainConfig of an in-memory model")
        model, cfg = model_path_or_model, train_config
    else:
        model, cfg = load_model(model_path_or_model)
    streaming = StreamingUNet(model, cfg.model, cfg.signal)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    source = "audio"
    if representative is None:
        representative, source = calibration_waves(cfg.signal), "generated"
    log_mags = (log_magnitude_frames(w, cfg.signal) for w in representative)
    return write_streaming(streaming, out_dir, quantizations, log_mags, source, cfg.attenuation_limit(max_attenuation_db))
