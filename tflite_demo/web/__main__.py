"""Serve the streaming denoiser as a web page on this machine.

    python -m tflite_demo.web                       # http://localhost:8000/
    python -m tflite_demo.web --port=8080 --model=exported/streaming/unet_compact_float32.tflite
    python -m tflite_demo.web --host=0.0.0.0 --tls_cert=cert.pem --tls_key=key.pem   # a phone on the LAN (docs/web_app.md)

Needs only the standard library and the built page (`npm ci` in tflite_demo/web).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from tflite_demo.web.server import BUNDLED_MODELS, DIST_DIR, ServerError, Site, make_server, tls_context


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tflite_demo.web", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000, help="TCP port to listen on (default: 8000; 0 picks a free one).")
    parser.add_argument("--host", default="localhost",
                        help="Address to bind (default: localhost, this machine only; 0.0.0.0 serves the local network).")
    parser.add_argument("--model", type=Path, action="append", default=[],
                        help="A streaming .tflite with its .json sidecar to offer first (repeat for several); "
                             "the bundled models are always offered too.")
    parser.add_argument("--tls_cert", type=Path, help="PEM certificate: serve HTTPS, which browsers need for the microphone "
                                                        "anywhere but localhost (with --tls_key).")
    parser.add_argument("--tls_key", type=Path, help="PEM private key of --tls_cert.")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error("--port must be between 0 and 65535")
    if (args.tls_cert is None) != (args.tls_key is None):
        parser.error("give --tls_cert and --tls_key together")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    models = [m.resolve() for m in args.model] + [m for m in BUNDLED_MODELS if m not in {x.resolve() for x in args.model}]
    try:
        tls = tls_context(args.tls_cert, args.tls_key) if args.tls_cert else None
        server = make_server(Site.build(DIST_DIR, models), args.host, args.port, tls)
    except ServerError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except OSError as err:  # port in use, address not on this machine
        print(f"error: cannot listen on {args.host}:{args.port} ({err.strerror or err})", file=sys.stderr)
        return 1
    port = server.server_address[1]
    shown = "localhost" if args.host in {"localhost", "127.0.0.1", "::1"} else args.host
    scheme = "https" if args.tls_cert else "http"
    print(f"serving the denoiser page on {scheme}://{shown}:{port}/ (models: {', '.join(m.name for m in models)}); Ctrl-C stops", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped")
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
