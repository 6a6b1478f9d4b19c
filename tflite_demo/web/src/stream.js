// The streaming loop of tflite_demo/stream.py, step for step: per hop, STFT of the newest frame,
// log-magnitude, one model call (frame + states in, mask + next states out), the attenuation
// floor on the mask, mask times the noisy spectrum (lookaheadFrames hops back), overlap-add. Keep the two in step:
// tests/test_web_app.py checks that the page's output equals the Python app's.
import { StreamingISTFT, StreamingSTFT } from "./stft.js";

export const SIDECAR_FORMAT = "keras_denoiser.streaming/1";

/** A problem the user can fix (bad file, bad model, no microphone); shown as one message. */
export class DemoError extends Error {}

/** The sidecar's signal parameters and tensor names, as StreamSpec.load reads them. */
export function parseSpec(meta, name) {
  try {
    if (meta?.format !== SIDECAR_FORMAT) throw new Error(`format is ${JSON.stringify(meta?.format)}, expected "${SIDECAR_FORMAT}"`);
    const int = (key, min = 1) => {
      const value = meta[key];
      if (!Number.isInteger(value) || value < min) throw new Error(`${key} must be an integer >= ${min}`);
      return value;
    };
    const limit = meta.max_attenuation_db;
    if (limit !== undefined && limit !== null && !(typeof limit === "number" && limit >= 0)) {
      throw new Error("max_attenuation_db must be a number >= 0");
    }
    const frameLength = int("frame_length");
    if ((frameLength & (frameLength - 1)) !== 0) throw new Error(`frame_length ${frameLength} is not a power of two, which the page's FFT needs`);
    return {
      sampleRate: int("sample_rate"),
      frameLength,
      hopLength: int("hop_length"),
      logEpsilon: Number(meta.log_epsilon),
      outputDelaySamples: int("output_delay_samples", 0),
      lookaheadFrames: meta.lookahead_frames === undefined ? 0 : int("lookahead_frames", 0),
      inputName: meta.input.name,
      maskName: meta.output.name,
      states: meta.states.map((s) => ({ input: s.input, output: s.output, shape: s.shape.map(Number) })),
      quantization: String(meta.quantization),
      maxAttenuationDb: limit ?? null,
    };
  } catch (err) {
    throw new DemoError(`${name}: not a streaming-model sidecar (${err.message})`);
  }
}

/** The mask floor for a maximum attenuation in dB; null (no limit) gives 0, a plain mask. */
export function maskFloor(maxAttenuationDb) {
  return maxAttenuationDb === null || maxAttenuationDb === undefined ? 0 : 10 ** (-maxAttenuationDb / 20);
}

/** Denoises a mono stream hop by hop with a step model (see model.js); mirrors StreamingDenoiser. */
export class StreamingDenoiser {
  constructor(model, spec, maxAttenuationDb = spec.maxAttenuationDb) {
    this.model = model;
    this.spec = spec;
    this.hopLength = spec.hopLength;
    this.outputDelaySamples = spec.outputDelaySamples;
    this.maskFloor = maskFloor(maxAttenuationDb);
    this.bypass = false;
    this.stft = new StreamingSTFT(spec.frameLength, spec.hopLength);
    this.istft = new StreamingISTFT(spec.frameLength, spec.hopLength);
    this.logMagnitude = new Float32Array(spec.frameLength / 2 + 1);
    this.reset();
  }

  setMaxAttenuationDb(maxAttenuationDb) {
    this.maskFloor = maskFloor(maxAttenuationDb);
  }

  /** Forget the past: zero STFT buffers, held spectra and model states. */
  reset() {
    this.stft.reset();
    this.istft.reset();
    this.model.reset();
    const bins = this.logMagnitude.length;
    // The model emits the mask of the spectrum lookaheadFrames hops back: hold those spectra.
    this.held = Array.from({ length: this.spec.lookaheadFrames }, () => ({ re: new Float64Array(bins), im: new Float64Array(bins) }));
  }

  /**
   * hopLength denoised samples (Float64Array) for hopLength new input samples, outputDelaySamples
   * late. `spectra`, when given, receives the noisy and the output magnitude for the spectrogram.
   */
  async call(hop, spectra) {
    const newest = this.stft.call(hop);
    for (let k = 0; k < newest.re.length; k++) {
      this.logMagnitude[k] = Math.log(Math.hypot(newest.re[k], newest.im[k]) + this.spec.logEpsilon);
    }
    const mask = await this.model.step(this.logMagnitude);
    this.held.push(newest);
    const spectrum = this.held.shift();
    const { re, im } = spectrum;
    if (spectra) for (let k = 0; k < re.length; k++) spectra.noisy[k] = Math.log(Math.hypot(re[k], im[k]) + this.spec.logEpsilon);
    for (let k = 0; k < re.length; k++) {
      const gain = this.bypass ? 1 : Math.max(mask[k], this.maskFloor);
      re[k] *= gain;
      im[k] *= gain;
    }
    if (spectra) for (let k = 0; k < re.length; k++) spectra.output[k] = Math.log(Math.hypot(re[k], im[k]) + this.spec.logEpsilon);
    return this.istft.call(spectrum);
  }
}

/**
 * Stream a mono signal through `denoiser` hop by hop, as a device would, then undo the delay
 * (as denoise_signal does): the input is followed by outputDelaySamples zeros (plus up to a hop)
 * so its tail leaves the pipeline, and the first outputDelaySamples output samples are dropped.
 * Returns the aligned output and the milliseconds each hop took.
 */
export async function denoiseSignal(denoiser, wave, onProgress = () => {}) {
  const hop = denoiser.hopLength;
  const delay = denoiser.outputDelaySamples;
  const padding = delay + (((-(wave.length + delay)) % hop) + hop) % hop;
  const padded = new Float32Array(wave.length + padding);
  padded.set(wave);
  denoiser.reset();
  const out = new Float32Array(padded.length);
  const hopMs = new Float64Array(padded.length / hop);
  for (let i = 0; i < hopMs.length; i++) {
    const start = performance.now();
    out.set(await denoiser.call(padded.subarray(i * hop, (i + 1) * hop)), i * hop);
    hopMs[i] = performance.now() - start;
    if (i % 200 === 0) onProgress(i / hopMs.length);
  }
  return { audio: out.slice(delay, delay + wave.length), hopMs };
}
