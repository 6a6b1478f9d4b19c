"""`python -m tflite_demo.web`: serves only the app's own files and models, never a path outside them."""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import ssl
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tflite_demo.web.server import BUNDLED_MODELS, ServerError, Site, make_server, tls_context

ROOT = Path(__file__).resolve().parents[1]
ROOT_MODELS = ROOT / "keras_denoiser" / "assets" / "models" / "tflite"


@pytest.fixture(scope="module")
def site_dir(tmp_path_factory) -> Path:
    """A stand-in for the built dist/: the server needs index.html and LiteRT's wasm beside it."""
    dist = tmp_path_factory.mktemp("dist")
    (dist / "index.html").write_text("<!doctype html><title>page</title>")
    (dist / "app.js").write_text("export {};")
    (dist / "litert_wasm_internal.wasm").write_bytes(b"\0asm\1\0\0\0")
    (dist.parent / "secret.txt").write_text("not for the web")
    return dist


@pytest.fixture(scope="module")
def server(site_dir):
    httpd = make_server(Site.build(site_dir, BUNDLED_MODELS), "127.0.0.1", 0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def request(port: int, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.putrequest(method, path, skip_accept_encoding=True)  # the path goes out exactly as given
    connection.endheaders()
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, dict(response.getheaders()), body


def test_page_assets_and_models_are_served_cross_origin_isolated(server) -> None:
    status, headers, body = request(server, "/")
    assert status == 200 and b"<title>page</title>" in body
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert headers["Cross-Origin-Embedder-Policy"] == "require-corp"
    status, headers, _ = request(server, "/litert_wasm_internal.wasm")
    assert status == 200 and headers["Content-Type"] == "application/wasm"
    status, _, body = request(server, "/models/index.json")
    assert status == 200 and b"unet_causal_int8.tflite" in body and b"unet_causal_float32.tflite" in body
    status, _, body = request(server, "/models/unet_causal_int8.tflite")
    assert status == 200 and body == (ROOT / "tflite_demo" / "models" / "unet_causal_int8.tflite").read_bytes()


@pytest.mark.parametrize("path", [
    "/../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E%2Fsecret.txt",
    "/models/..%2f..%2fstream.py",
    "/models/../../tflite_demo/stream.py",
    "//etc/passwd",
    "/./index.html",
    "/index.html/",
    "/app.js%00.html",
    "/models/unet_causal_int8.tflite/../../stream.py",
])
def test_no_path_escapes_the_app(server, path: str) -> None:
    status, _, body = request(server, path)
    assert status == 404 and b"not for the web" not in body and b"import" not in body


def test_unknown_file_is_404_and_other_methods_405(server) -> None:
    assert request(server, "/nothing.js")[0] == 404
    assert request(server, "/models/other.tflite")[0] == 404
    for method in ("POST", "PUT", "DELETE", "BREW"):
        assert request(server, "/", method)[0] == 405


def test_malformed_request_is_400_not_a_traceback(server) -> None:
    for line in (b"GET", b"GET / HTTP/x.y", b"\x16\x03\x01 tls hello"):
        with socket.create_connection(("127.0.0.1", server), timeout=10) as raw:
            raw.sendall(line + b"\r\n\r\n")
            answer = raw.recv(4096)
        assert answer.startswith(b"HTTP/1.0 400") and b"Traceback" not in answer, line


def test_a_chosen_model_is_offered_first_with_its_sidecar(site_dir, tmp_path) -> None:
    chosen = tmp_path / "mine.tflite"
    chosen.write_bytes(b"model bytes")
    shutil.copyfile(BUNDLED_MODELS[0].with_suffix(".json"), chosen.with_suffix(".json"))  # a streaming sidecar, checked at start-up
    site = Site.build(site_dir, [chosen, *BUNDLED_MODELS])
    listing = json.loads(site.models_json)
    assert listing[0] == {"name": "mine.tflite", "tflite": "models/mine.tflite", "json": "models/mine.json", "bundled": False}
    assert [entry["bundled"] for entry in listing[1:]] == [True] * len(BUNDLED_MODELS)  # what the page falls back to
    assert site.lookup("/models/mine.tflite") == chosen and site.lookup("/models/mine.json") == chosen.with_suffix(".json")


def test_missing_build_or_model_is_one_line(tmp_path) -> None:
    with pytest.raises(ServerError, match="not built; run `npm ci`"):
        Site.build(tmp_path, BUNDLED_MODELS)
    lone = tmp_path / "lone.tflite"
    lone.write_bytes(b"x")
    result = subprocess.run([sys.executable, "-m", "tflite_demo.web", f"--model={lone}", "--port=0"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("error: ")


def test_https_with_a_certificate_and_no_traceback_for_a_plain_http_client(site_dir, tmp_path, capfd) -> None:
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed (needed to make a test certificate)")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=localhost"], check=True, capture_output=True)
    httpd = make_server(Site.build(site_dir, BUNDLED_MODELS), "127.0.0.1", 0, tls_context(cert, key))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    port = httpd.server_address[1]
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:  # plain HTTP to the TLS port
            raw.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            raw.recv(4096)
        trust = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        trust.load_verify_locations(cert)
        trust.check_hostname = False  # the certificate names localhost, the request goes to 127.0.0.1
        connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=trust)
        connection.request("GET", "/")
        response = connection.getresponse()
        assert response.status == 200 and response.getheader("Cross-Origin-Embedder-Policy") == "require-corp"
        connection.close()
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert "Traceback" not in capfd.readouterr().err
    with pytest.raises(ServerError, match="not a usable certificate and key"):
        tls_context(key, key)


def test_a_whole_signal_model_is_refused_at_start_up_naming_the_export_that_streams(site_dir) -> None:
    offline = ROOT_MODELS / "unet-int8.tflite"  # the bundled offline export: a sidecar, but not a streaming one
    with pytest.raises(ServerError) as refused:
        Site.build(site_dir, [offline, *BUNDLED_MODELS])
    line = str(refused.value)
    assert "\n" not in line and line.startswith(str(offline.with_suffix(".json")))
    assert "keras_denoiser export --model=" in line and "--formats=streaming_tflite" in line


def test_favicon_is_no_content_not_a_404(server) -> None:
    status, _, body = request(server, "/favicon.ico")
    assert (status, body) == (204, b"")
