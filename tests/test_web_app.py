"""The web app in headless Chromium: file-mode parity with `python -m tflite_demo`, live mode on a
fake microphone, and the messages for bad input. Needs chromium + chromium-driver (Debian) and the
built page (`npm ci` in tflite_demo/web); CI installs both (.ci/run), so there a missing browser
fails, while elsewhere the tests skip and say why."""

from __future__ import annotations

import base64
import io
import json
import math
import os
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import harmonic_speechlike
from tflite_demo.__main__ import resample
from tflite_demo.bundled import DEFAULT_MODEL
from tflite_demo.resample import StreamResampler
from tflite_demo.stream import StreamingDenoiser, denoise_signal
from tflite_demo.web.server import BUNDLED_MODELS, DIST_DIR, Site, make_server

pytestmark = pytest.mark.long  # a browser per test: about a minute on 2 cores

ROOT = Path(__file__).resolve().parents[1]
NOISY = ROOT / "keras_denoiser" / "assets" / "sample" / "noisy_sample.wav"
MODELS = ROOT / "tflite_demo" / "models"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")  # Debian / Ubuntu names
CHROMEDRIVER = shutil.which("chromedriver")
# Where the screenshots go for a person to look at (CI keeps out/ as an artefact); docs/images/ holds copies.
SCREENSHOTS = Path(os.environ.get("WEB_SCREENSHOTS", ROOT / "out" / "web_screenshots"))
SNR_FLOOR_DB = {"float32": 60.0, "int8": 40.0}


def missing_requirement() -> str | None:
    if not (DIST_DIR / "index.html").is_file():
        return f"the web app is not built ({DIST_DIR} missing; `make web` builds it when npm is present)"
    if not CHROMIUM or not CHROMEDRIVER:
        return "chromium or chromedriver is not on PATH (apt-get install chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -r requirements.txt)"
    return None


def snr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    error = np.sum((reference - estimate) ** 2)
    return float("inf") if error == 0 else float(10 * np.log10(np.sum(reference**2) / error))


@pytest.fixture(scope="module")
def page():
    """One headless Chromium on the served page, its microphone fed from the bundled noisy sample."""
    reason = missing_requirement()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"web app tests cannot run in CI: {reason}")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    httpd = make_server(Site.build(DIST_DIR, BUNDLED_MODELS), "127.0.0.1", 0)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=900,940",
                 "--autoplay-policy=no-user-gesture-required", "--use-fake-device-for-media-stream",
                 "--use-fake-ui-for-media-stream", f"--use-file-for-fake-audio-capture={NOISY}"]:
        options.add_argument(flag)
    try:
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        try:
            driver.set_script_timeout(60)
            driver.get(f"http://localhost:{httpd.server_address[1]}/")
            wait_for(driver, "return window.denoiserApp && window.denoiserApp.model && window.denoiserApp.model.name")
            yield driver
        finally:
            driver.quit()
    finally:
        httpd.shutdown()
        httpd.server_close()


def wait_for(driver, script: str, timeout: float = 60.0):
    """Poll a JS expression until it is truthy; fail with the page's last message otherwise."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for `{script}`; page says {message(driver)!r}")


def message(driver) -> str:
    return driver.execute_script("const m = window.denoiserApp && window.denoiserApp.lastMessage; return m ? m.text : ''")


def float32_array(driver, expression: str) -> np.ndarray:
    """A Float32Array on the page, copied out through base64."""
    encoded = driver.execute_script(f"""const c = {expression};
        const u = new Uint8Array(c.buffer, c.byteOffset, c.byteLength); let s = '';
        for (let i = 0; i < u.length; i += 8192) s += String.fromCharCode(...u.subarray(i, i + 8192));
        return btoa(s);""")
    return np.frombuffer(base64.b64decode(encoded), np.float32)


def choose_model(driver, name: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("id", "model-select")).select_by_visible_text(name)
    wait_for(driver, f"return window.denoiserApp.model && window.denoiserApp.model.name === '{name}'")


def set_attenuation(driver, limit_db: float) -> None:
    """Move the slider as a user would (61, its last step, is 'no limit': `math.inf`)."""
    driver.execute_script("const s = document.getElementById('attenuation'); s.value = arguments[0];"
                          "s.dispatchEvent(new Event('input'));", 61 if math.isinf(limit_db) else limit_db)


def denoise_on_page(driver, path: Path) -> dict:
    driver.execute_script("window.denoiserApp.lastFile = null; window.denoiserApp.lastMessage = null;")
    driver.find_element("id", "file-input").send_keys(str(path))
    wait_for(driver, "const a = window.denoiserApp; return a.lastFile || (a.lastMessage && a.lastMessage.text)")
    result = driver.execute_script("const f = window.denoiserApp.lastFile; return f && "
                                   "{rate: f.rate, channels: f.channels.length, timing: f.timing}")
    assert result, message(driver)
    result["audio"] = np.stack([float32_array(driver, f"window.denoiserApp.lastFile.channels[{c}]")
                                for c in range(result["channels"])], axis=1)
    return result


def screenshot(driver, name: str) -> None:
    """A 64-colour PNG (about 60 KB) of the page as it is."""
    from PIL import Image

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    image = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")
    image.quantize(colors=64).save(SCREENSHOTS / name, optimize=True)


@pytest.mark.parametrize(
    "name, limit_db",
    [("unet_compact_int8", math.inf), ("unet_compact_float32", math.inf), ("unet_compact_float32", 12.0),
     ("unet_causal_int8", math.inf)],
)
def test_file_mode_equals_the_python_app(page, name: str, limit_db: float) -> None:
    model = MODELS / f"{name}.tflite"
    quantization = name.rsplit("_", 1)[1]
    choose_model(page, model.name)
    set_attenuation(page, limit_db)
    result = denoise_on_page(page, NOISY)
    noisy, rate = sf.read(NOISY, dtype="float32")
    python = StreamingDenoiser(model, max_attenuation_db=limit_db)
    expected = denoise_signal(python, noisy)
    assert result["rate"] == rate and result["audio"].shape == (len(noisy), 1)
    snr = snr_db(expected.audio, result["audio"][:, 0])
    print(f"\n{model.name} limit {limit_db}: page vs Python SNR {snr:.1f} dB; per-hop ms median "
          f"browser {result['timing']['medianMs']:.3f} vs Python {1000 * np.median(expected.hop_seconds):.3f}")
    assert snr >= SNR_FLOOR_DB[quantization]
    if quantization == "int8":
        screenshot(page, "web_file_mode.png")


def test_zero_db_limit_gives_the_input_back(page) -> None:
    choose_model(page, DEFAULT_MODEL.name)
    set_attenuation(page, 0)
    result = denoise_on_page(page, NOISY)
    set_attenuation(page, math.inf)
    np.testing.assert_allclose(result["audio"][:, 0], sf.read(NOISY, dtype="float32")[0], atol=1e-6)


def test_other_rates_and_channels_come_back_at_the_input_rate(page, tmp_path) -> None:
    rate = 44100
    speech = harmonic_speechlike(1.5, rate, seed=1)
    noise = 0.05 * np.random.default_rng(2).normal(size=len(speech)).astype(np.float32)
    stereo = np.stack([speech + noise, 0.5 * (speech + noise)], axis=1)
    source = tmp_path / "stereo.wav"
    sf.write(source, stereo, rate, subtype="FLOAT")
    result = denoise_on_page(page, source)
    assert result["rate"] == rate and result["audio"].shape == stereo.shape
    # the page resamples with its own windowed sinc, the Python app with soxr HQ; their transition
    # bands (7.5-8 kHz) differ, so the outputs are close (a misaligned or swapped channel: ~0 dB), not equal
    python = StreamingDenoiser(DEFAULT_MODEL)
    expected = resample(denoise_signal(python, resample(stereo[:, 0], rate, 16000)).audio, 16000, rate, len(stereo))
    assert snr_db(expected, result["audio"][:, 0]) > 15.0
    wav = base64.b64decode(page.execute_async_script("""const done = arguments[0];
        fetch(document.getElementById('download').href).then(r => r.arrayBuffer()).then(b => {
          const u = new Uint8Array(b); let s = '';
          for (let i = 0; i < u.length; i += 8192) s += String.fromCharCode(...u.subarray(i, i + 8192));
          done(btoa(s)); });"""))
    path = tmp_path / "download.wav"
    path.write_bytes(wav)
    info = sf.info(str(path))
    assert (info.samplerate, info.channels, info.frames) == (rate, 2, len(stereo))


@pytest.mark.parametrize("rate_in, rate_out", [(44100, 16000), (16000, 48000)])
def test_page_resampler_equals_the_python_one(page, rate_in: int, rate_out: int) -> None:
    """Live mode resamples with src/resample.js in the page and tflite_demo/resample.py in Python: one algorithm."""
    wave = (0.3 * np.random.default_rng(rate_in).normal(size=rate_in // 4)).astype(np.float32)
    encoded = base64.b64encode(wave.tobytes()).decode()
    page.execute_script("""const bytes = Uint8Array.from(atob(arguments[0]), (c) => c.charCodeAt(0));
        window.resampled = window.denoiserApp.resampleSignal(new Float32Array(bytes.buffer), arguments[1], arguments[2]);""",
                        encoded, rate_in, rate_out)
    on_page = float32_array(page, "window.resampled")
    resampler = StreamResampler(rate_in, rate_out)
    in_python = np.concatenate([resampler.push(wave[i : i + 1000]) for i in range(0, len(wave), 1000)]
                               + [resampler.push(np.zeros(resampler.half_width + 1, np.float32))])
    assert len(on_page) == round(len(wave) * rate_out / rate_in)
    np.testing.assert_allclose(on_page, in_python[: len(on_page)], atol=1e-5)


def test_live_mode_denoises_the_microphone_without_dropouts(page) -> None:
    page.refresh()  # a fresh page and worker: no garbage from the file tests to collect mid-stream
    wait_for(page, "return window.denoiserApp && window.denoiserApp.model && window.denoiserApp.model.name")
    choose_model(page, DEFAULT_MODEL.name)
    page.find_element("id", "tab-live").click()
    page.find_element("id", "live-toggle").click()
    wait_for(page, "return !!window.denoiserApp.live || (window.denoiserApp.lastMessage && window.denoiserApp.lastMessage.text)")
    assert page.execute_script("return !!window.denoiserApp.live"), message(page)
    settle_until = time.monotonic() + 8.0  # past the start-up transient: 1 s without a new dropout
    last, stable_since = -1, time.monotonic()
    while time.monotonic() < settle_until and time.monotonic() - stable_since < 1.0:
        count = page.execute_script("return window.denoiserApp.live.dropouts()")
        last, stable_since = count, stable_since if count == last else time.monotonic()
        time.sleep(0.1)
    recorded = page.execute_async_script("""const done = arguments[0];
        window.denoiserApp.recordLive(3).then(r => done({rate: r.rate, dropouts: r.dropouts,
                                                         total: window.denoiserApp.live.dropouts()}));""")
    time.sleep(0.3)  # the page shows the count every 250 ms
    shown = int(page.find_element("id", "stat-dropouts").text)
    rate = recorded["rate"]
    audio_in = float32_array(page, "window.denoiserApp.lastRecording.input")
    audio_out = float32_array(page, "window.denoiserApp.lastRecording.output")
    screenshot(page, "web_live_mode.png")
    page.find_element("id", "bypass").click()  # bypass: the input comes through, noise and all
    time.sleep(0.3)
    page.execute_async_script("window.denoiserApp.recordLive(2).then(arguments[0])")
    bypassed = float32_array(page, "window.denoiserApp.lastRecording.output")
    page.find_element("id", "bypass").click()
    page.find_element("id", "live-toggle").click()
    wait_for(page, "return !window.denoiserApp.live")
    page.find_element("id", "tab-file").click()

    def noise_floor_db(wave: np.ndarray) -> float:  # the quiet 10 % of 20 ms frames: between words
        frame = int(0.02 * rate)
        energies = np.mean(wave[: len(wave) // frame * frame].reshape(-1, frame) ** 2, axis=1)
        return float(10 * np.log10(np.percentile(energies, 10) + 1e-12))

    print(f"\nlive dropouts: {recorded['dropouts']} while recording, {recorded['total']} since start, page shows {shown}")
    assert recorded["dropouts"] == 0 and shown >= recorded["total"]
    assert np.sqrt(np.mean(audio_out**2)) > 0.01  # not silent
    print(f"live at {rate} Hz: noise floor {noise_floor_db(audio_in):.1f} dB in, {noise_floor_db(audio_out):.1f} dB out")
    # The bundled model's sidecar caps attenuation at 12 dB, so the floor drops by a few dB, not more.
    assert noise_floor_db(audio_out) < noise_floor_db(audio_in) - 3.0
    assert abs(noise_floor_db(bypassed) - noise_floor_db(audio_in)) < 3.0


def test_a_dropped_file_is_denoised_like_a_chosen_one(page) -> None:
    choose_model(page, DEFAULT_MODEL.name)
    chosen = denoise_on_page(page, NOISY)["audio"]
    page.execute_script("""window.denoiserApp.lastFile = null;
        const bytes = Uint8Array.from(atob(arguments[0]), (c) => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], "dropped.wav", { type: "audio/wav" }));
        document.getElementById("drop-zone").dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true }));""",
                        base64.b64encode(NOISY.read_bytes()).decode())
    wait_for(page, "return window.denoiserApp.lastFile")
    assert page.execute_script("return window.denoiserApp.lastFile.name") == "dropped.wav"
    np.testing.assert_array_equal(float32_array(page, "window.denoiserApp.lastFile.channels[0]"), chosen[:, 0])


def test_non_audio_file_says_so_and_the_page_keeps_working(page, tmp_path) -> None:
    bogus = tmp_path / "notes.wav"
    bogus.write_text("these are meeting notes, not audio")
    page.execute_script("window.denoiserApp.lastFile = null; window.denoiserApp.lastMessage = null;")
    page.find_element("id", "file-input").send_keys(str(bogus))
    wait_for(page, "return window.denoiserApp.lastMessage && window.denoiserApp.lastMessage.text")
    assert message(page).startswith("notes.wav: not an audio file this browser can read")
    assert page.find_element("id", "message").is_displayed()
    assert denoise_on_page(page, NOISY)["audio"].shape[0] > 0


def test_mismatched_model_says_so_and_the_previous_model_stays(page, tmp_path) -> None:
    choose_model(page, "unet_causal_int8.tflite")
    model = tmp_path / "wrong.tflite"
    shutil.copy(MODELS / "unet_causal_float32.tflite", model)
    sidecar = json.loads((MODELS / "unet_causal_float32.json").read_text())
    sidecar["states"][0]["shape"] = [1, 3, 264, 1]  # the model's state_0 is [1, 2, 264, 1]
    model.with_suffix(".json").write_text(json.dumps(sidecar))
    page.find_element("id", "model-files").send_keys(f"{model}\n{model.with_suffix('.json')}")
    wait_for(page, "return window.denoiserApp.lastMessage && window.denoiserApp.lastMessage.text")
    assert message(page).startswith("wrong.tflite does not match the streaming contract of its sidecar")
    assert "state_0" in message(page)
    assert page.execute_script("return window.denoiserApp.model.name") == "unet_causal_int8.tflite"
    assert denoise_on_page(page, NOISY)["audio"].shape[0] > 0
    garbage = tmp_path / "garbage.tflite"
    garbage.write_bytes(b"not a flatbuffer")
    shutil.copy(MODELS / "unet_causal_int8.json", garbage.with_suffix(".json"))
    page.execute_script("window.denoiserApp.lastMessage = null;")
    page.find_element("id", "model-files").send_keys(f"{garbage}\n{garbage.with_suffix('.json')}")
    wait_for(page, "return window.denoiserApp.lastMessage && window.denoiserApp.lastMessage.text")
    assert message(page).startswith("garbage.tflite: not a TFLite model LiteRT can run")
    # a good pair from disk loads, its settings read from the sidecar
    good = MODELS / "unet_causal_float32.tflite"
    page.find_element("id", "model-files").send_keys(f"{good}\n{good.with_suffix('.json')}")
    wait_for(page, "return window.denoiserApp.model.quantization === 'float32'")
    latency_ms = StreamingDenoiser(good).latency_ms  # the sidecar's delay (and lookahead) plus a hop
    assert page.find_element("id", "model-info").text.startswith(f"unet_causal_float32.tflite (float32, 16 kHz, {latency_ms:.0f} ms latency)")


def test_a_lookahead_model_from_disk_streams_as_the_python_app(page, tmp_path) -> None:
    """The page holds back the spectra a lookahead model's late masks belong to, as the Python app does."""
    from keras_denoiser.export.streaming import export_streaming
    from tests.enhance_helpers import tiny_unet

    model, cfg = tiny_unet("unet_causal", seed=3, lookahead_frames=2)
    path = export_streaming(model, tmp_path, quantizations=("float32",), train_config=cfg)["float32"]
    # Another name first: the test before may leave a 48 ms `unet_causal_float32.tflite` loaded, and the
    # wait below would then pass at once, while this file is still loading.
    choose_model(page, "unet_causal_int8.tflite")
    page.find_element("id", "model-files").send_keys(f"{path}\n{path.with_suffix('.json')}")
    wait_for(page, "return window.denoiserApp.model.name === 'unet_causal_float32.tflite' && "
                   "window.denoiserApp.model.latencyMs > 40")
    assert "48 ms latency" in page.find_element("id", "model-info").text
    result = denoise_on_page(page, NOISY)
    expected = denoise_signal(StreamingDenoiser(path), sf.read(NOISY, dtype="float32")[0]).audio
    assert np.abs(expected).max() > 0.01  # the tiny model's masks pass some of the input
    assert snr_db(expected, result["audio"][:, 0]) >= SNR_FLOOR_DB["float32"]
    shown = page.execute_script("const s = document.getElementById('model-select'); return s.options[s.selectedIndex].text")
    assert shown == "unet_causal_float32.tflite (from disk)"
    choose_model(page, "unet_causal_int8.tflite")  # the bundled model it replaced can be chosen again


@pytest.mark.parametrize("quantization", ["float32", "int8"])
def test_a_compact_model_from_disk_streams_as_the_python_app(page, tmp_path, quantization: str) -> None:
    """unet_compact's states (a frame per encoder level, the GRU's hidden units) run on the page as in Python."""
    from keras_denoiser.export import mixture
    from keras_denoiser.export.streaming import export_streaming
    from tests.export_support import trained_tiny_model

    model, cfg = trained_tiny_model("unet_compact")
    calibration = [mixture.generated_mixture(2.0, 16000, seed) for seed in (20, 21)]
    path = export_streaming(model, tmp_path, quantizations=(quantization,), representative=calibration, train_config=cfg)[quantization]
    choose_model(page, "unet_causal_int8.tflite")  # another name: the wait below then sees the file from disk arrive
    page.find_element("id", "model-files").send_keys(f"{path}\n{path.with_suffix('.json')}")
    wait_for(page, f"return window.denoiserApp.model.name === 'unet_compact_{quantization}.tflite'")
    result = denoise_on_page(page, NOISY)
    expected = denoise_signal(StreamingDenoiser(path), sf.read(NOISY, dtype="float32")[0]).audio
    assert np.abs(expected).max() > 0.01
    assert snr_db(expected, result["audio"][:, 0]) >= SNR_FLOOR_DB[quantization]
    choose_model(page, "unet_causal_int8.tflite")


@pytest.mark.parametrize("override, expected", [
    ("WebAssembly.validate = () => false;", "This browser has no WebAssembly SIMD"),
    ("navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('denied', 'NotAllowedError'));",
     "Microphone access was denied"),
])
def test_missing_simd_and_denied_microphone_are_explained(page, override: str, expected: str) -> None:
    script = page.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": override})
    try:
        page.refresh()
        wait_for(page, "return window.denoiserApp && (window.denoiserApp.model || window.denoiserApp.lastMessage)")
        if "getUserMedia" in override:
            page.find_element("id", "tab-live").click()
            page.find_element("id", "live-toggle").click()
            wait_for(page, "return window.denoiserApp.lastMessage && window.denoiserApp.lastMessage.text")
        assert message(page).startswith(expected)
    finally:
        page.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": script["identifier"]})
        page.refresh()
        wait_for(page, "return window.denoiserApp && window.denoiserApp.model")



def damaged_model(folder: Path, damage: str) -> Path:
    """`damaged.tflite` with a good sidecar: a copy of a bundled model cut short (LiteRT cannot read it),
    or a tiny model exported with NaN weights (it loads and matches its sidecar, and its masks are NaN)."""
    path = folder / "damaged.tflite"
    if damage == "cut short":
        whole = (MODELS / "unet_causal_float32.tflite").read_bytes()
        path.write_bytes(whole[: len(whole) // 2])
        shutil.copy(MODELS / "unet_causal_float32.json", path.with_suffix(".json"))
        return path
    from keras_denoiser.export.streaming import export_streaming
    from tests.enhance_helpers import tiny_unet

    model, cfg = tiny_unet("unet_causal", seed=3)
    last = [layer for layer in model.layers if layer.get_weights()][-1]
    last.set_weights([np.full_like(w, np.nan) for w in last.get_weights()])
    exported = export_streaming(model, folder / "export", quantizations=("float32",), train_config=cfg)["float32"]
    exported.rename(path)
    exported.with_suffix(".json").rename(path.with_suffix(".json"))
    return path


@pytest.mark.parametrize("damage, problem", [("cut short", "not a TFLite model LiteRT can run"),
                                             ("NaN weights", "its mask is not finite")])
def test_a_model_that_fails_in_the_browser_is_replaced_by_the_bundled_one_and_the_page_says_so(
        page, tmp_path, damage: str, problem: str) -> None:
    """The server checks a model as the app does, by its sidecar; a `.tflite` that LiteRT cannot read,
    or whose first step on silence is not finite, passes that check and fails only on the page, which
    then loads a bundled model in its place: offered first (as `--model` is), or chosen later from the list."""
    from selenium.webdriver.support.ui import Select

    damaged = damaged_model(tmp_path, damage)
    httpd = make_server(Site.build(DIST_DIR, [damaged, *BUNDLED_MODELS]), "127.0.0.1", 0)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    home, fallback = page.current_url, BUNDLED_MODELS[0].name

    def shown() -> str:
        return page.execute_script("const s = document.getElementById('model-select'); return s.options[s.selectedIndex].text")

    def falls_back() -> None:
        wait_for(page, "return window.denoiserApp && window.denoiserApp.lastMessage && window.denoiserApp.lastMessage.text")
        assert message(page).startswith(f"damaged.tflite: {problem}")
        assert message(page).endswith(f". Using the bundled model {fallback} instead.")
        assert page.find_element("id", "message").is_displayed()
        assert page.execute_script("return window.denoiserApp.model.name") == fallback == shown()
        assert page.find_element("id", "model-info").text.startswith(f"{fallback} (")

    try:
        page.get(f"http://localhost:{httpd.server_address[1]}/")
        falls_back()
        assert np.isfinite(denoise_on_page(page, NOISY)["audio"]).all()
        choose_model(page, "unet_causal_float32.tflite")
        page.execute_script("window.denoiserApp.lastMessage = null;")
        Select(page.find_element("id", "model-select")).select_by_visible_text("damaged.tflite")
        falls_back()
    finally:
        page.get(home)
        wait_for(page, "return window.denoiserApp && window.denoiserApp.model")
        httpd.shutdown()
        httpd.server_close()
