"""TFLite mask networks on the stock LiteRT runtime: builtin ops only, four quantizations.

`tf.signal.inverse_stft` and complex ops are not TFLite builtins, so a .tflite file holds the mask
network alone: `log_magnitude` float32 `[1, frames, bins]` -> `mask` float32 `[1, frames, bins]`,
with a dynamic time axis (resize the input to any frame count). The STFT and iSTFT run outside;
the JSON sidecar next to each model says how (`sidecar`).

Quantizations: `float32` (none), `float16` (weights in float16), `dynamic` (int8 weights, float
activations) and `int8` (full integer with a representative dataset; input and output stay
float32 with quantize/dequantize inside, so callers feed the same features to every model).

`convert_to_tflite` and `convert_saved_model` are shared with the streaming exporter.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from pathlib import Path
from typing import Callable, Iterable, Sequence

import keras
import numpy as np
import tensorflow as tf

from keras_denoiser.core import features
from keras_denoiser.core.config import SignalConfig, TrainConfig
from keras_denoiser.core.errors import UserError
from keras_denoiser.export.choices import QUANTIZATIONS

Representative = Iterable["np.ndarray | Sequence[np.ndarray]"]


def check_quantization(quantize: str) -> None:
    """UserError unless `quantize` is one of QUANTIZATIONS."""
    if quantize not in QUANTIZATIONS:
        raise UserError(f"unknown quantization {quantize!r}; choose from {', '.join(QUANTIZATIONS)}")


def convert_saved_model(
    saved_model_dir: str | os.PathLike[str],
    signature_key: str,
    quantize: str,
    representative: Representative | None = None,
) -> bytes:
    """A builtins-only .tflite flatbuffer of one SavedModel signature.

    `representative` (needed for int8) yields model inputs: an array for a one-input signature or
    a sequence of arrays in input order, each a realistic example (e.g. log-magnitude frames).
    """
    check_quantization(quantize)
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir), signature_keys=[signature_key])
    converter.target_spec.supported_ops = [
        tf.lite.OpsSet.TFLITE_BUILTINS_INT8 if quantize == "int8" else tf.lite.OpsSet.TFLITE_BUILTINS
    ]
    if quantize != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if quantize == "int8":
        if representative is None:
            raise UserError("int8 quantization needs a representative dataset")
        converter.representative_dataset = _as_dataset_fn(representative)
    try:
        flatbuffer = converter.convert()
    except Exception as err:  # the converter raises ConverterError, ValueError, RuntimeError ...
        raise UserError(f"tflite {quantize}: conversion with builtin ops failed ({_converter_error(err)})") from None
    check_builtins_only(flatbuffer, quantize)
    return flatbuffer


def convert_to_tflite(
    model: keras.Model,
    quantize: str,
    representative: Representative | None = None,
    fn: Callable | None = None,
    input_signature: Sequence[tf.TensorSpec] | None = None,
) -> bytes:
    """Convert `fn` (default: `model` in inference mode) over `input_signature` (default: the model's inputs).

    `fn` may close over `model`, whose variables are tracked; it returns a tensor or a dict of named tensors.
    """
    if input_signature is None:
        input_signature = [tf.TensorSpec(t.shape, tf.float32, name=t.name) for t in model.inputs]
    if fn is None:

        def fn(*inputs):
            return model(list(inputs) if len(inputs) > 1 else inputs[0], training=False)

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", tf.function(fn), input_signature=list(input_signature))
    with tempfile.TemporaryDirectory(prefix="tflite-src-") as tmp:
        archive.write_out(tmp, verbose=False)
        return convert_saved_model(tmp, "serving_default", quantize, representative)


def _as_dataset_fn(representative: Representative) -> Callable[[], Iterable[list[np.ndarray]]]:
    def dataset():
        for example in representative:
            arrays = [example] if isinstance(example, np.ndarray) or tf.is_tensor(example) else list(example)
            yield [np.asarray(a, np.float32) for a in arrays]

    return dataset


def _converter_error(err: Exception) -> str:
    """The converter's complaint in a few words, e.g. "TF ops not in the builtins: Complex, IRFFT"."""
    text = str(err)
    missing = sorted(set(re.findall(r"'tf\.(\w+)' op is neither a custom op nor a flex op", text)))
    if missing:
        return f"TF ops not in the builtins: {', '.join(missing)}"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else type(err).__name__


def operator_names(flatbuffer: bytes) -> list[str]:
    """Names of the operator codes a .tflite model uses: builtin names, or the custom code (e.g. FlexRFFT)."""
    from ai_edge_litert import schema_py_generated as schema

    builtin_names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    tflite_model = schema.Model.GetRootAs(flatbuffer, 0)
    names = []
    for i in range(tflite_model.OperatorCodesLength()):
        code = tflite_model.OperatorCodes(i)
        if code.CustomCode():
            names.append(code.CustomCode().decode())
        else:
            names.append(builtin_names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())])
    return names


def check_builtins_only(flatbuffer: bytes, label: str) -> None:
    """UserError when the model needs Flex (TF Select) or custom ops the stock runtime lacks."""
    from ai_edge_litert import schema_py_generated as schema

    non_builtin = [name for name in operator_names(flatbuffer) if not hasattr(schema.BuiltinOperator, name)]
    if non_builtin:
        raise UserError(f"tflite {label}: needs non-builtin ops {', '.join(sorted(set(non_builtin)))}")


def sidecar(flatbuffer: bytes, quantize: str, train_cfg: TrainConfig, max_attenuation_db: float) -> dict:
    """What a runtime needs to use the model: signal parameters, feature, tensors and their quantization."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=flatbuffer)
    signal = train_cfg.signal
    return {
        "model": train_cfg.model.name,
        "causal": train_cfg.model.causal,
        "quantization": quantize,
        "sample_rate": signal.sample_rate,
        "frame_length": signal.frame_length,
        "hop_length": signal.hop_length,
        "num_bins": signal.num_bins,
        "pad": signal.pad,
        "window": "hann (periodic); inverse uses tf.signal.inverse_stft_window_fn(hop_length)",
        "feature": f"log(|STFT| + {features.LOG_EPSILON:g})",
        "frames": None,
        "time_axis": "dynamic: resize the input to [1, frames, num_bins] for any frames >= 1",
        "max_attenuation_db": attenuation_limit_entry(max_attenuation_db),
        "mask_floor": "apply mask = max(mask, 10 ** (-max_attenuation_db / 20)) before multiplying",
        "input": _tensor_info(interpreter.get_input_details()[0]),
        "output": _tensor_info(interpreter.get_output_details()[0]),
    }


def _tensor_info(detail: dict) -> dict:
    scale, zero_point = detail["quantization"]
    return {
        "name": detail["name"],
        "shape_signature": [int(d) for d in detail["shape_signature"]],
        "dtype": np.dtype(detail["dtype"]).name,
        "quantization": {"scale": float(scale), "zero_point": int(zero_point)},
    }


class TFLiteMasker:
    """Runs a mask .tflite on the LiteRT interpreter: log-magnitude `[frames, bins]` -> mask."""

    def __init__(self, path: str | os.PathLike[str], num_threads: int = 1) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self._interpreter = Interpreter(model_path=str(Path(path)), num_threads=num_threads)
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]
        self._frames = -1

    def __call__(self, log_magnitude: np.ndarray) -> np.ndarray:
        frames = log_magnitude.shape[0]
        if frames != self._frames:
            self._interpreter.resize_tensor_input(self._input, [1, frames, log_magnitude.shape[1]])
            self._interpreter.allocate_tensors()
            self._frames = frames
        self._interpreter.set_tensor(self._input, log_magnitude[np.newaxis].astype(np.float32))
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output)[0]


def enhance_with_tflite(masker: TFLiteMasker, wave: np.ndarray, signal_cfg: SignalConfig, floor: float = 0.0) -> np.ndarray:
    """Enhanced 1-D waveform: TF STFT, LiteRT mask (never below `floor`), TF iSTFT."""
    return features.enhance(wave, lambda log_mag: masker(log_mag.numpy()), signal_cfg, floor).wave.numpy()


def attenuation_limit_entry(max_attenuation_db: float) -> float | None:
    """The sidecar's `max_attenuation_db`: the limit an app applies by default (JSON null: no limit)."""
    return None if math.isinf(max_attenuation_db) else max_attenuation_db
