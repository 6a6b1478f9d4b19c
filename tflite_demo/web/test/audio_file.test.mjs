// The page's file reader (src/audio_file.js) on the mutated files tests/fuzz_audio.py writes: each is
// decoded into finite samples within ±MAX_PEAK or refused with a DemoError naming it, and what Python must
// refuse (cut short, empty, NaN/Inf, absurd peaks, no samples) is refused here too. tests/test_fuzz.py
// writes the files and runs `node --test` with FUZZ_AUDIO_DIR set to their folder.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import { MAX_PEAK, checkOutput, decodeAudioFile, encodeWav } from "../src/audio_file.js";
import { DemoError } from "../src/stream.js";

const folder = process.env.FUZZ_AUDIO_DIR;
const cases = folder ? JSON.parse(readFileSync(join(folder, "manifest.json"), "utf8")) : [];

test("the fuzzed files are there", { skip: folder ? false : "set FUZZ_AUDIO_DIR (tests/test_fuzz.py does)" }, () => {
  assert.ok(cases.length >= 200);
});

for (const { name, mutation, expect } of cases) {
  test(`${name}: ${expect}`, async () => {
    const bytes = readFileSync(join(folder, name));
    let audio;
    try {
      audio = await decodeAudioFile(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length), name);
    } catch (err) {
      assert.ok(err instanceof DemoError, `${name} (${mutation}): ${err.stack}`);
      assert.ok(err.message.startsWith(`${name}: `) && !err.message.includes("\n"), err.message);
      assert.notEqual(expect, "decode", err.message);
      return;
    }
    assert.notEqual(expect, "refuse", `${name} (${mutation}) was decoded`);
    assert.ok(audio.channels[0].length > 0);
    for (const channel of audio.channels) assert.ok(channel.every((x) => Number.isFinite(x) && Math.abs(x) <= MAX_PEAK), name);
  });
}

/** A mono float WAV of `samples` at `rate`. */
function floatWav(samples, rate = 16000) {
  const view = new DataView(new ArrayBuffer(44 + 4 * samples.length));
  const text = (at, s) => [...s].forEach((ch, i) => view.setUint8(at + i, ch.charCodeAt(0)));
  text(0, "RIFF");
  view.setUint32(4, 36 + 4 * samples.length, true);
  text(8, "WAVEfmt ");
  view.setUint32(16, 16, true);
  view.setUint16(20, 3, true);
  view.setUint16(22, 1, true);
  view.setUint32(24, rate, true);
  view.setUint32(28, 4 * rate, true);
  view.setUint16(32, 4, true);
  view.setUint16(34, 32, true);
  text(36, "data");
  view.setUint32(40, 4 * samples.length, true);
  samples.forEach((x, i) => view.setFloat32(44 + 4 * i, x, true));
  return view.buffer;
}

test("a peak a little above full scale is a warning, an absurd one a refusal with its time", async () => {
  const hot = await decodeAudioFile(floatWav([0.1, 1.5, -0.2]), "hot.wav");
  assert.equal(hot.warning, "hot.wav: peak 1.5 at 0.00 s is above full scale (1.0); processed as it is");
  await assert.rejects(decodeAudioFile(floatWav([...new Array(16000).fill(0), 2.6e36]), "x.mp3"), {
    message: "x.mp3: peak 2.6e+36 at 1.00 s; float audio must lie within about ±1 (refused above 4, +12 dBFS)",
  });
  await assert.rejects(decodeAudioFile(floatWav([0, NaN]), "n.wav"), { message: "n.wav: contains NaN or Inf samples (nan at 0.00 s)" });
  await assert.rejects(decodeAudioFile(floatWav([0.1], 3), "slow.wav"), { message: /^slow.wav: sample rate 3 Hz is not an audio rate/ });
  await assert.rejects(decodeAudioFile(floatWav([0.1, 0.2]).slice(0, 46), "cut.wav"), {
    message: "cut.wav: truncated: header declares 8 bytes of audio, file holds 2",
  });
});

test("an output that is not finite or absurdly louder than its input is never encoded", () => {
  assert.throws(() => checkOutput([new Float32Array([0, NaN])], 0.5, "a.wav"), { message: "a.wav: the denoised output is not finite; nothing written" });
  assert.throws(() => checkOutput([new Float32Array([0, 3])], 0.5, "a.wav"), /peaks at 3 against the input's 0.5/);
  checkOutput([new Float32Array([0, 0.9])], 0.5, "a.wav");
  assert.equal(encodeWav([new Float32Array([0.5])], 16000).size, 46);
});
