"""A stand-in for TF Serving's REST API on 127.0.0.1, answering from an export's SavedModels.

For trying `serve_client` and for tests, without Docker or the model server; not for production
(one process, no batching, no TLS, no model reloading): serve with TF Serving (docs/serving.md).

    server = LocalServing.load(Path("exported")).server(port=8501)
    server.serve_forever()   # POST http://127.0.0.1:8501/v1/models/denoiser:predict

It takes what TF Serving takes on the paths `serve_client` uses: `POST /v1/models/NAME[/versions/N]:predict`
with a columnar (`inputs`) or row (`instances`) JSON body, answered as `outputs` or `predictions`,
and `GET /v1/models/NAME` for the model's status. Errors are `{"error": ...}` with 400 or 404.
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from keras_denoiser.core.errors import UserError
from keras_denoiser.inference.serve_client import SIGNATURE

HOST = "127.0.0.1"  # never another interface: this is no production server
_PREDICT = re.compile(r"^/v1/models/([^/:]+)(?:/versions/(\d+))?:predict$")
_STATUS = re.compile(r"^/v1/models/([^/:]+)(?:/versions/(\d+))?$")


@dataclasses.dataclass
class LocalServing:
    """The SavedModels of an export folder (`DIR/NAME/VERSION/saved_model.pb`), loaded: name -> version -> model."""

    models: dict[str, dict[int, Any]]

    @classmethod
    def load(cls, export_dir: Path) -> "LocalServing":
        """Every NAME/VERSION SavedModel below `export_dir`; UserError when there is none."""
        import tensorflow as tf

        export_dir = Path(export_dir)
        if not export_dir.is_dir():
            raise UserError(f"{export_dir}: no such export folder")
        found = sorted(p.parent for p in export_dir.glob("*/*/saved_model.pb") if p.parent.name.isdigit())
        if not found:
            raise UserError(f"{export_dir}: no SavedModel (NAME/VERSION/saved_model.pb); "
                            "run `keras_denoiser export --export_dir=DIR --formats=saved_model` first")
        models: dict[str, dict[int, Any]] = {}
        for folder in found:
            try:
                models.setdefault(folder.parent.name, {})[int(folder.name)] = tf.saved_model.load(str(folder))
            except (OSError, ValueError, tf.errors.OpError) as err:
                raise UserError(f"{folder}: not a loadable SavedModel ({str(err).strip().splitlines()[0]})") from None
        return cls(models)

    def predict(self, name: str, version: str | None, request: Any) -> tuple[int, dict]:
        """(HTTP status, JSON reply) for a predict request body, as TF Serving answers it."""
        import tensorflow as tf

        model = self._model(name, version)
        if model is None:
            return 404, {"error": f"Servable not found for request: Specific({name}, {version or 'latest'})"}
        if not isinstance(request, dict) or not ({"inputs", "instances"} & request.keys()):
            return 400, {"error": "the request body needs 'inputs' (columnar) or 'instances' (row format)"}
        signatures = model.signatures
        signature_name = request.get("signature_name", SIGNATURE)
        if signature_name not in signatures:
            return 400, {"error": f"signature {signature_name!r} not found; this model has {sorted(signatures)}"}
        signature = signatures[signature_name]
        input_name = next(iter(signature.structured_input_signature[1]))
        columnar = "inputs" in request
        values = request["inputs"] if columnar else request["instances"]
        if columnar and isinstance(values, dict):
            values = values.get(input_name)
        try:
            outputs = signature(**{input_name: tf.constant(values, tf.float32)})
        except (tf.errors.InvalidArgumentError, ValueError, TypeError) as err:
            return 400, {"error": str(err).strip().splitlines()[0]}
        result = {key: value.numpy().tolist() for key, value in outputs.items()}
        if columnar:
            return 200, {"outputs": next(iter(result.values())) if len(result) == 1 else result}
        rows = len(next(iter(result.values())))
        one = len(result) == 1
        return 200, {"predictions": [next(iter(result.values()))[i] if one else {k: v[i] for k, v in result.items()}
                                     for i in range(rows)]}

    def status(self, name: str, version: str | None) -> tuple[int, dict]:
        """TF Serving's model status reply."""
        if self._model(name, version) is None:
            return 404, {"error": f"Could not find any versions of model {name}"}
        versions = [int(version)] if version else sorted(self.models[name], reverse=True)[:1]
        return 200, {"model_version_status": [
            {"version": str(v), "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}} for v in versions
        ]}

    def _model(self, name: str, version: str | None) -> Any | None:
        versions = self.models.get(name, {})
        if not versions:
            return None
        return versions.get(int(version)) if version else versions[max(versions)]

    def server(self, port: int = 8501) -> "LocalServer":
        """An HTTP server on 127.0.0.1:`port` (0: any free port) answering from these models."""
        return LocalServer((HOST, port), _handler(self))


class LocalServer(ThreadingHTTPServer):
    """The HTTP server; `request_sizes` holds the body size of every predict request, for tests."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self.request_sizes: list[int] = []

    def start(self) -> threading.Thread:
        """Serve in a daemon thread (for tests and notebooks); `shutdown()` stops it."""
        thread = threading.Thread(target=self.serve_forever, daemon=True)
        thread.start()
        return thread


def _handler(serving: LocalServing) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "keras-denoiser-serve-local"

        def do_POST(self) -> None:  # noqa: N802 (http.server naming)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.server.request_sizes.append(len(body))
            match = _PREDICT.match(self.path)
            if match is None:
                return self._reply(404, {"error": f"no predict API at {self.path}; use /v1/models/NAME:predict"})
            try:
                request = json.loads(body)
            except ValueError:
                return self._reply(400, {"error": "the request body is not JSON"})
            self._reply(*serving.predict(match.group(1), match.group(2), request))

        def do_GET(self) -> None:  # noqa: N802
            match = _STATUS.match(self.path)
            if match is None:
                return self._reply(404, {"error": f"nothing at {self.path}; try /v1/models/NAME"})
            self._reply(*serving.status(match.group(1), match.group(2)))

        def _reply(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass  # one line per request would bury the start-up line

    return Handler
