// The processing thread: LiteRT, the streaming denoiser and the resamplers live here, so neither
// the page nor the audio thread ever waits for the model. Messages: {id, type, ...} in, and
// {id, result} / {id, error} out, plus unsolicited {type: "progress" | "spectra" | "stats"}.
import { DemoError, StreamingDenoiser, denoiseSignal, parseSpec } from "./stream.js";
import { StreamingSTFT } from "./stft.js";
import { StepModel, loadRuntime } from "./model.js";
import { Resampler, resampleSignal } from "./resample.js";
import { Ring, STATS } from "./ring.js";

const SPECTRA_EVERY_MS = 40;
const STATS_EVERY_MS = 250;
const TIMING_WINDOW = 2000;  // hops kept for the live median and p99
const SPECTROGRAM_COLUMNS = 800;  // a file's spectrogram is thinned to the canvas width
const WARM_UP_HOPS = 20;  // model calls on silence before live mode starts: the first ones are slow

let denoiser = null;
let live = null;

function percentile(sorted, q) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : NaN;
}

/** Median and p99 per-hop milliseconds, and the real-time factor (processing time / audio time). */
function timingSummary(hopMs, hopLength, sampleRate) {
  const sorted = Float64Array.from(hopMs).sort();
  const total = sorted.reduce((a, b) => a + b, 0);
  return {
    hops: sorted.length,
    medianMs: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    rtf: total / 1000 / ((sorted.length * hopLength) / sampleRate),
  };
}

async function loadModel({ wasmUrl, name, bytes, sidecar, sidecarName }) {
  if (live) throw new DemoError("stop live mode before changing the model");
  await loadRuntime(wasmUrl);
  const spec = parseSpec(sidecar, sidecarName);
  const model = await StepModel.load(new Uint8Array(bytes), spec, name);
  await checkFirstStep(model, spec, name);
  denoiser?.model.delete();
  denoiser = new StreamingDenoiser(model, spec);
  return { name, quantization: spec.quantization, sampleRate: spec.sampleRate, hopLength: spec.hopLength,
           latencyMs: (1000 * (spec.outputDelaySamples + spec.hopLength)) / spec.sampleRate, maxAttenuationDb: spec.maxAttenuationDb };
}

/** One step on silence before a model is taken: one LiteRT compiles may still fail to run, or give a
 * mask that is not finite (NaN weights), and the page then falls back to a bundled model. */
async function checkFirstStep(model, spec, name) {
  let problem = null;
  try {
    model.reset();
    const mask = await model.step(new Float32Array(spec.frameLength / 2 + 1).fill(Math.log(spec.logEpsilon)));
    if (!mask.every(Number.isFinite)) problem = `${name}: its mask is not finite (NaN or infinite on silence)`;
  } catch (err) {
    problem = `${name}: fails on its first step (${String(err.message || err).split("\n")[0]})`;
  }
  if (problem) {
    model.delete();
    throw new DemoError(problem);
  }
}

function requireModel() {
  if (!denoiser) throw new DemoError("no model is loaded");
  if (live) throw new DemoError("stop live mode first");
  return denoiser;
}

/** Log-magnitude columns of `wave`, at most SPECTROGRAM_COLUMNS of them, evenly spaced. */
function spectrogramColumns(wave, spec) {
  const stft = new StreamingSTFT(spec.frameLength, spec.hopLength);
  const hops = Math.floor(wave.length / spec.hopLength);
  const stride = Math.max(1, Math.ceil(hops / SPECTROGRAM_COLUMNS));
  const columns = [];
  for (let i = 0; i < hops; i++) {
    const { re, im } = stft.call(wave.subarray(i * spec.hopLength, (i + 1) * spec.hopLength));
    if (i % stride === 0) columns.push(Float32Array.from(re, (r, k) => Math.log(Math.hypot(r, im[k]) + spec.logEpsilon)));
  }
  return columns;
}

/** Every channel resampled to the model's rate, denoised, and resampled back to `rate`. */
async function denoiseFile({ channels, rate, maxAttenuationDb }) {
  const d = requireModel();
  d.setMaxAttenuationDb(maxAttenuationDb);
  d.bypass = false;
  const outputs = [];
  const hopMs = [];
  let spectra = null;
  for (let c = 0; c < channels.length; c++) {
    const atModelRate = resampleSignal(channels[c], rate, d.spec.sampleRate);
    const progress = (f) => postMessage({ type: "progress", fraction: (c + f) / channels.length });
    const result = await denoiseSignal(d, atModelRate, progress);
    outputs.push(resampleSignal(result.audio, d.spec.sampleRate, rate).subarray(0, channels[c].length));
    hopMs.push(...result.hopMs);
    spectra ??= { input: spectrogramColumns(atModelRate, d.spec), output: spectrogramColumns(result.audio, d.spec) };
  }
  postMessage({ type: "progress", fraction: 1 });
  return { channels: outputs, spectra, timing: timingSummary(hopMs, d.hopLength, d.spec.sampleRate) };
}

/** Live mode until a "stop" message; the rings come from the page (see ring.js). */
async function runLive(rings) {
  const d = requireModel();
  live = { stop: false };  // from here a "stop" message ends the loop
  try {
    return await liveLoop(d, rings);
  } finally {
    live = null;
  }
}

/** Device-rate input ring -> model rate -> hops -> device rate -> output ring, until stopped. */
async function liveLoop(d, { input, output, deviceRate }) {
  for (let i = 0; i < WARM_UP_HOPS && !live.stop; i++) await d.call(new Float32Array(d.hopLength));
  d.reset();
  const inRing = new Ring(input);
  const outRing = new Ring(output);
  const toModel = new Resampler(deviceRate, d.spec.sampleRate);
  const toDevice = new Resampler(d.spec.sampleRate, deviceRate);
  const bins = d.spec.frameLength / 2 + 1;
  const hop = d.hopLength;
  let pending = new Float32Array(0);
  let spectra = { noisy: [], output: [] };
  const timings = [];
  let lastSpectra = performance.now();
  let lastStats = lastSpectra;
  let busyMs = 0;
  let hopsDone = 0;
  const block = new Float32Array(128);
  while (!live.stop) {
    if (inRing.available() < block.length) {
      await inRing.waitForData(20);
      continue;
    }
    while (inRing.pull(block)) {
      const fresh = toModel.push(block);
      const joined = new Float32Array(pending.length + fresh.length);
      joined.set(pending);
      joined.set(fresh, pending.length);
      pending = joined;
    }
    let offset = 0;
    for (; offset + hop <= pending.length; offset += hop) {
      const frame = { noisy: new Float32Array(bins), output: new Float32Array(bins) };
      const start = performance.now();
      const out = await d.call(pending.subarray(offset, offset + hop), frame);
      const ms = performance.now() - start;
      const written = outRing.push(toDevice.push(out));
      busyMs += ms;
      hopsDone++;
      timings.push(ms);
      if (timings.length > TIMING_WINDOW) timings.shift();
      if (written < out.length) outRing.count(STATS.overruns);  // output ring full: samples were lost
      spectra.noisy.push(frame.noisy);
      spectra.output.push(frame.output);
    }
    pending = pending.slice(offset);
    const now = performance.now();
    if (now - lastSpectra > SPECTRA_EVERY_MS && spectra.noisy.length) {
      postMessage({ type: "spectra", bins, ...spectra });
      spectra = { noisy: [], output: [] };
      lastSpectra = now;
    }
    if (now - lastStats > STATS_EVERY_MS) {
      postMessage({ type: "stats", timing: timingSummary(timings, hop, d.spec.sampleRate),
                    rtf: busyMs / 1000 / ((hopsDone * hop) / d.spec.sampleRate) });
      lastStats = now;
    }
  }
  return { hops: hopsDone };
}

const handlers = {
  model: loadModel,
  file: denoiseFile,
  live: (message) => {
    runLive(message).then(
      (result) => postMessage({ type: "live-ended", result }),
      (err) => postMessage({ type: "live-ended", error: err instanceof DemoError ? err.message : String(err) }),
    );
    return { started: true };
  },
  stop: () => {
    if (live) live.stop = true;
    return {};
  },
  settings: ({ bypass, maxAttenuationDb }) => {
    if (denoiser) {
      denoiser.bypass = bypass;
      denoiser.setMaxAttenuationDb(maxAttenuationDb);
    }
    return {};
  },
};

onmessage = async ({ data }) => {
  try {
    const result = await handlers[data.type](data);
    postMessage({ id: data.id, result });
  } catch (err) {
    const known = err instanceof DemoError;
    if (!known) console.error(err);
    postMessage({ id: data.id, error: known ? err.message : `internal error: ${err.message || err}` });
  }
};
