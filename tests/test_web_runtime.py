"""The page's runtime (tflite_demo/web/src) pinned to the Python runtime without a browser.

The Python runtime writes golden vectors to a temporary folder: the STFT and overlap-add of a
signal, the mask floors of a few limits, one whole hop loop of the bundled model (the frames the
model saw, its masks and the denoised output) and WAV files cut short at every kind of place with
what the Python app makes of each. `node --test` then runs the page's own modules on them
(tflite_demo/web/test/runtime.test.mjs, with WEB_GOLDEN_DIR set) and asserts equality within
float tolerance. Only the LiteRT.js call itself is left to the Chromium tests (test_web_app.py).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

from tests.conftest import harmonic_speechlike, skip_unless_available
from tflite_demo.__main__ import DEFAULT_MODEL, read_input
from tflite_demo.errors import DemoError
from tflite_demo.sidecar import attenuation_limit
from tflite_demo.stft import StreamingISTFT, StreamingSTFT, hann_window
from tflite_demo.stream import StreamingDenoiser, denoise_signal, mask_floor

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "tflite_demo" / "web"
NODE_TEST = WEB / "test" / "runtime.test.mjs"
FRAME = 512
HOPS = (128, 256)  # the default hop and `--hop_length=256`'s, where frames overlap by half
LIMIT_DB = 12.0  # a floor of 0.25: the hop loop's output shows whether the page applies it


def _stft_golden(folder: Path) -> None:
    for hop in HOPS:
        _write_stft_golden(folder / f"stft_{hop}.json", hop)


def _write_stft_golden(path: Path, hop_length: int) -> None:
    rng = np.random.default_rng(0)
    hops = rng.normal(0.0, 0.3, size=(12, hop_length))
    analysis, synthesis = StreamingSTFT(FRAME, hop_length), StreamingISTFT(FRAME, hop_length)
    spectra = [analysis(hop) for hop in hops]
    gains = rng.uniform(0.0, 1.0, size=(len(hops), FRAME // 2 + 1))
    outputs = [synthesis(spectrum * gain) for spectrum, gain in zip(spectra, gains)]
    golden = {
        "frame_length": FRAME, "hop_length": hop_length, "window": hann_window(FRAME).tolist(), "hops": hops.tolist(),
        "spectra": [{"re": s.real.tolist(), "im": s.imag.tolist()} for s in spectra],
        "gains": gains.tolist(), "outputs": np.stack(outputs).tolist(),
    }
    path.write_text(json.dumps(golden))


def _floor_golden(folder: Path) -> None:
    """(limit as the sidecar writes it, floor); JSON null is the sidecar's "no limit"."""
    limits = [0.0, 3.0, 12.0, 40.0, None]
    floors = [[limit, mask_floor(attenuation_limit(limit))] for limit in limits]
    (folder / "floor.json").write_text(json.dumps(floors))


class _Recording(StreamingDenoiser):
    """The app's denoiser, keeping each frame its model saw and the mask it gave."""

    def reset(self) -> None:
        super().reset()
        self.seen: list[tuple[np.ndarray, np.ndarray]] = []

    def mask(self, log_magnitude: np.ndarray) -> np.ndarray:
        mask = super().mask(log_magnitude)
        self.seen.append((np.asarray(log_magnitude, np.float32), mask))
        return mask


def _hop_loop_golden(folder: Path) -> None:
    denoiser = _Recording(DEFAULT_MODEL, max_attenuation_db=LIMIT_DB)
    rng = np.random.default_rng(1)
    wave = harmonic_speechlike(0.3, denoiser.sample_rate) + rng.normal(0.0, 0.05, 4800).astype(np.float32)
    wave = wave[:4700]  # not a whole number of hops: the tail and the delay are padded as a device pads them
    out = denoise_signal(denoiser, wave).audio
    golden = {
        "sidecar": json.loads(DEFAULT_MODEL.with_suffix(".json").read_text()),
        "max_attenuation_db": LIMIT_DB,
        "wave": wave.tolist(),
        "log_magnitudes": [frame.tolist() for frame, _ in denoiser.seen],
        "masks": [mask.tolist() for _, mask in denoiser.seen],
        "output": out.tolist(),
    }
    (folder / "hop_loop.json").write_text(json.dumps(golden))


def _wav_golden(folder: Path) -> None:
    """WAV files whole and cut short (in the header, in a chunk, in the samples) with the Python app's verdict."""
    wavs = folder / "wav"
    wavs.mkdir()
    x = (0.3 * np.sin(np.arange(100) / 5.0)).astype(np.float32)
    sources = {"pcm16": (x, "PCM_16"), "float": (np.stack([x, -x], axis=1), "FLOAT"), "ulaw": (x, "ULAW")}
    cases = []
    for kind, (data, subtype) in sources.items():
        buffer = io.BytesIO()
        sf.write(buffer, data, 16000, format="WAV", subtype=subtype)
        whole = buffer.getvalue()
        cuts = [0, 4, 12, 20, 30, 36, 40, 42, 44, 45, len(whole) // 2, len(whole) - 1]
        cuts += [len(whole)] if kind != "ulaw" else []  # node decodes PCM and float WAV itself; u-law is the browser's
        for cut in sorted(set(cuts)):
            path = wavs / f"{kind}_{cut}.wav"
            path.write_bytes(whole[:cut])
            try:
                samples, _ = read_input(path)
                verdict, channels = "ok", samples.T.tolist()
            except DemoError as err:
                verdict, channels = str(err).removeprefix(f"{path}: "), None
            cases.append({"name": path.name, "python": verdict, "channels": channels})
    (wavs / "manifest.json").write_text(json.dumps(cases))


def test_the_page_runtime_equals_the_python_runtime_on_its_golden_vectors(tmp_path: Path) -> None:
    skip_unless_available(None if shutil.which("node") else "node is not installed (the page's runtime tests)")
    for write in (_stft_golden, _floor_golden, _hop_loop_golden, _wav_golden):
        write(tmp_path)
    result = subprocess.run(
        ["node", "--test", str(NODE_TEST)], env={**os.environ, "WEB_GOLDEN_DIR": str(tmp_path)},
        capture_output=True, text=True, timeout=120, cwd=WEB,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "# pass 5\n" in result.stdout and "# skipped 0\n" in result.stdout, result.stdout[-2000:]
