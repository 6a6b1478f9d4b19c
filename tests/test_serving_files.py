"""The TF Serving files agree with each other and with the export layout (no Docker engine needed)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from tensorflow.core.protobuf import saved_model_pb2

from keras_denoiser.export import report
from keras_denoiser.export.exporter import MODELS_CONFIG_FILE, STREAMING_DIR, TFLITE_DIR
from keras_denoiser.export.saved_model import save_serving_model
from tests.enhance_helpers import tiny_unet

SERVING = Path(__file__).resolve().parents[1] / "export" / "serving"
# Every op of our SavedModel; TF had them all long before TF Serving 2.20, the image the Dockerfile uses.
# A new op here means: check that the serving image in the Dockerfile still serves the model.
SERVED_OPS = {
    "AddV2", "AssignVariableOp", "BiasAdd", "Cast", "ComplexAbs", "ConcatV2", "Const", "Conv2D",
    "Conv2DBackpropInput", "Cos", "DisableCopyOnRead", "Equal", "Fill", "FloorDiv", "FloorMod", "GatherV2",
    "IRFFT", "Identity", "Log", "MaxPool", "Maximum", "MergeV2Checkpoints", "Mul", "Neg", "NoOp", "Pack", "Pad",
    "Placeholder", "RFFT", "Range", "ReadVariableOp", "RealDiv", "Relu", "Reshape", "RestoreV2", "Rsqrt", "SaveV2",
    "Select", "Shape", "ShardedFilename", "Sigmoid", "SplitV", "Square", "Squeeze", "StatefulPartitionedCall",
    "StaticRegexFullMatch", "StridedSlice", "StringJoin", "Sub", "Sum", "Tile", "Transpose", "VarHandleOp",
    "VarIsInitializedOp",
}


def _dockerfile_version() -> str:
    return re.search(r"^ARG TF_SERVING_VERSION=(\S+)$", (SERVING / "Dockerfile").read_text(), re.MULTILINE)[1]


def test_compose_file_parses_and_serves_the_dockerfile_image_with_the_export_folder_as_models() -> None:
    compose = yaml.safe_load((SERVING / "docker-compose.yml").read_text())
    service = compose["services"]["serving"]
    assert service["image"] == f"tensorflow/serving:${{TF_SERVING_VERSION:-{_dockerfile_version()}}}"
    assert service["command"] == [f"--model_config_file=/models/{MODELS_CONFIG_FILE}"]
    assert {"8500:8500", "8501:8501"} <= set(service["ports"])
    [volume] = service["volumes"]
    source, target, mode = volume.rsplit(":", 2)
    assert (target, mode) == ("/models", "ro")
    default_export_dir = re.fullmatch(r"\$\{EXPORT_DIR:-(.+)\}", source)[1]
    assert (SERVING / default_export_dir).resolve() == SERVING.parents[1] / "exported"  # ./exported at the repository root


def test_dockerfile_takes_its_base_image_from_the_version_argument_and_serves_models_config() -> None:
    dockerfile = (SERVING / "Dockerfile").read_text()
    assert "FROM tensorflow/serving:${TF_SERVING_VERSION}\n" in dockerfile
    assert f'"--model_config_file=/models/{MODELS_CONFIG_FILE}"' in dockerfile
    assert "base_path: \"/models/" in (SERVING / MODELS_CONFIG_FILE).read_text()


def test_dockerignore_leaves_out_exactly_what_the_exporter_writes_besides_the_saved_model() -> None:
    ignored = [line for line in (SERVING / "Dockerfile.dockerignore").read_text().splitlines() if line and line[0] != "#"]
    assert ignored == [f"{TFLITE_DIR}/", f"{STREAMING_DIR}/", report.REPORT_FILE]


def test_saved_model_uses_only_ops_the_serving_image_serves(tmp_path: Path) -> None:
    model, cfg = tiny_unet()
    save_serving_model(model, cfg.signal, tmp_path / "1", cfg.max_attenuation_db)
    saved = saved_model_pb2.SavedModel.FromString((tmp_path / "1" / "saved_model.pb").read_bytes())
    graph = saved.meta_graphs[0].graph_def
    ops = {node.op for node in graph.node} | {node.op for f in graph.library.function for node in f.node_def}
    assert ops <= SERVED_OPS, sorted(ops - SERVED_OPS)
