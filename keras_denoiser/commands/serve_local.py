"""Answer TF Serving's REST predict API on 127.0.0.1 from an export's SavedModel: for trying serve_client.

    keras_denoiser export --export_dir=exported --formats=saved_model
    keras_denoiser serve_local --export_dir=exported --port=8501
    keras_denoiser serve_client --url=http://127.0.0.1:8501/v1/models/denoiser:predict noisy.wav clean.wav

Not for production: one process on 127.0.0.1 only, no batching, TLS or model reloading. Serve with
TF Serving (docs/serving.md). Ctrl-C stops it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from absl import flags

FLAGS = flags.FlagValues()  # this command's own flags: another command's never meet them
flags.DEFINE_string(
    "export_dir", None, "Export folder holding NAME/VERSION/saved_model.pb (from `export`).", flag_values=FLAGS
)
flags.DEFINE_integer("port", 8501, "Port on 127.0.0.1 to answer on (TF Serving's REST port); default 8501.",
                     lower_bound=0, upper_bound=65535, flag_values=FLAGS)
flags.mark_flag_as_required("export_dir", flag_values=FLAGS)


def main(argv: Sequence[str]) -> int:
    from keras_denoiser.core.errors import UserError
    from keras_denoiser.inference.serve_local import HOST, LocalServing

    serving = LocalServing.load(Path(FLAGS.export_dir))
    try:
        server = serving.server(FLAGS.port)
    except OSError as err:
        raise UserError(f"{HOST}:{FLAGS.port}: cannot listen ({err.strerror or err})") from None
    port = server.server_address[1]
    for name, versions in sorted(serving.models.items()):
        print(f"serving {name} (version {max(versions)}) at http://{HOST}:{port}/v1/models/{name}:predict", flush=True)
    print("for trying serve_client only, not for production (use TF Serving); Ctrl-C stops", flush=True)
    with server:
        server.serve_forever()
    return 0
