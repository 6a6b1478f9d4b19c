// The page's runtime on golden vectors the Python runtime wrote (tests/test_web_runtime.py writes them and
// runs `node --test` with WEB_GOLDEN_DIR set to their folder): the STFT and overlap-add, the mask floor,
// the whole hop loop (STFT, log-magnitude, model step, floor, lookahead, overlap-add, delay) and the WAV
// reader give what tflite_demo gives, within float tolerance. The model step replays the bundled model's
// masks as Python's LiteRT produced them (LiteRT.js itself needs a browser: tests/test_web_app.py).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import { decodeAudioFile } from "../src/audio_file.js";
import { hannWindow, StreamingISTFT, StreamingSTFT } from "../src/stft.js";
import { DemoError, StreamingDenoiser, denoiseSignal, maskFloor, parseSpec } from "../src/stream.js";

const folder = process.env.WEB_GOLDEN_DIR;
const skip = folder ? false : "set WEB_GOLDEN_DIR (tests/test_web_runtime.py does)";
const golden = (name) => JSON.parse(readFileSync(join(folder, name), "utf8"));

/** Largest absolute difference between two equally long sequences (a length mismatch fails). */
function maxError(actual, expected, what) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  return worst;
}

function assertClose(actual, expected, tolerance, what) {
  const error = maxError(actual, expected, what);
  assert.ok(error <= tolerance, `${what}: off by ${error} (tolerance ${tolerance})`);
}

for (const hopLength of [128, 256]) test(`the Hann window, the STFT of each hop and the overlap-add are numpy's at hop ${hopLength}`, { skip }, () => {
  const g = golden(`stft_${hopLength}.json`);
  assertClose(hannWindow(g.frame_length), g.window, 1e-12, "window");
  const analysis = new StreamingSTFT(g.frame_length, g.hop_length);
  const synthesis = new StreamingISTFT(g.frame_length, g.hop_length);
  g.hops.forEach((hop, t) => {
    const spectrum = analysis.call(Float64Array.from(hop));
    assertClose(spectrum.re, g.spectra[t].re, 1e-9, `hop ${t} real part`);
    assertClose(spectrum.im, g.spectra[t].im, 1e-9, `hop ${t} imaginary part`);
    const gain = g.gains[t];
    const masked = { re: spectrum.re.map((x, k) => x * gain[k]), im: spectrum.im.map((x, k) => x * gain[k]) };
    assertClose(synthesis.call(masked), g.outputs[t], 1e-9, `overlap-add of hop ${t}`);
  });
});

test("the mask floor of each limit is the Python app's", { skip }, () => {
  for (const [limit, floor] of golden("floor.json")) {
    assert.ok(Math.abs(maskFloor(limit) - floor) <= 1e-12, `limit ${limit}: ${maskFloor(limit)}, not ${floor}`);
  }
});

test("the hop loop feeds the model the frames Python fed it and gives Python's output", { skip }, async () => {
  const g = golden("hop_loop.json");
  const spec = parseSpec(g.sidecar, "golden sidecar");
  let hop = 0;
  const replay = {  // the bundled model's masks, hop by hop, as LiteRT gave them to the Python app
    reset() {
      hop = 0;
    },
    async step(logMagnitude) {
      assert.ok(hop < g.masks.length, "more hops than the Python app ran");
      assertClose(logMagnitude, g.log_magnitudes[hop], 1e-4, `log-magnitude of hop ${hop}`);
      return Float32Array.from(g.masks[hop++]);
    },
  };
  const denoiser = new StreamingDenoiser(replay, spec, g.max_attenuation_db);
  const { audio } = await denoiseSignal(denoiser, Float32Array.from(g.wave));
  assert.equal(hop, g.masks.length, "hops run");
  assertClose(audio, g.output, 1e-5, "denoised output");
});

test("the WAV reader decodes what the Python app decodes and refuses what it refuses, cut-off and empty files alike", { skip }, async () => {
  const cases = golden(join("wav", "manifest.json"));
  assert.ok(cases.some((c) => c.python === "ok") && cases.some((c) => c.python.startsWith("truncated:")));
  for (const { name, python, channels } of cases) {
    const bytes = readFileSync(join(folder, "wav", name));
    let audio;
    try {
      audio = await decodeAudioFile(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length), name);
    } catch (err) {
      assert.ok(err instanceof DemoError, `${name}: ${err.stack}`);
      assert.notEqual(python, "ok", `${name}: refused (${err.message}), Python decodes it`);
      if (python.startsWith("truncated:") || python === "empty file") assert.equal(err.message, `${name}: ${python}`);
      continue;
    }
    assert.equal(python, "ok", `${name}: decoded, Python refuses it (${python})`);
    assert.equal(audio.channels.length, channels.length, `${name}: channels`);
    audio.channels.forEach((channel, c) => assertClose(channel, channels[c], 1e-7, `${name} channel ${c}`));
  }
});
