// Audio files in and out of the page: decode at the file's own rate (the browser would resample
// to its output rate otherwise) and write 16-bit PCM WAV, as `python -m tflite_demo` writes.
// WAV is read here, as libsndfile reads it (int / 2^(bits-1)): Chrome's decoder scales 16-bit
// samples by 1/32767, a 3e-5 relative error that would show up in the parity with Python.
// Samples are checked as keras_denoiser's core/audio.py checks them (the same limits and words): a NaN or
// Inf sample, a peak above MAX_PEAK (+12 dBFS) or a rate no audio has is refused; a peak above 1 is a warning.
import { DemoError } from "./stream.js";

const FALLBACK_RATE = 48000;
export const MAX_PEAK = 4.0;
export const MAX_OUTPUT_GAIN = 4.0;
const OUTPUT_PEAK_FLOOR = 1e-3;
const MIN_RATE = 1000;
const MAX_RATE = 768000;
const SIZE_PLACEHOLDERS = [0, 0xffffffff];  // sizes a streaming writer leaves in the header: the data runs to the end

function ascii(bytes, start, length) {
  return String.fromCharCode(...bytes.subarray(start, start + length));
}

/** The sample rate a compressed file's header states (FLAC, Ogg Vorbis/Opus, MP3), or null if unknown. */
export function headerSampleRate(buffer) {
  const bytes = new Uint8Array(buffer);
  const view = new DataView(buffer);
  if (bytes.length >= 21 && ascii(bytes, 0, 4) === "fLaC") return (view.getUint32(18) >>> 12) || null;
  if (bytes.length >= 48 && ascii(bytes, 0, 4) === "OggS") {
    const head = ascii(bytes, 28, 8);
    if (head === "OpusHead") return 48000;  // Opus always decodes at 48 kHz
    if (head.slice(1, 7) === "vorbis") return view.getUint32(40, true) || null;
  }
  let at = bytes.length >= 10 && ascii(bytes, 0, 3) === "ID3" ? 10 + ((bytes[6] << 21) | (bytes[7] << 14) | (bytes[8] << 7) | bytes[9]) : 0;
  for (const end = Math.min(bytes.length - 4, at + 4096); at < end; at++) {
    if (bytes[at] === 0xff && (bytes[at + 1] & 0xe0) === 0xe0) {
      const version = (bytes[at + 1] >> 3) & 3;  // 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5
      const index = (bytes[at + 2] >> 2) & 3;
      if (version === 1 || index === 3) continue;
      return [44100, 48000, 32000][index] / (version === 3 ? 1 : version === 2 ? 2 : 4);
    }
  }
  return null;
}

const WAVE_PCM = 1;
const WAVE_FLOAT = 3;
const WAVE_EXTENSIBLE = 0xfffe;

/**
 * {rate, channels} of a PCM (8/16/24/32-bit) or float WAV; null for anything else (the browser decodes it);
 * DemoError for a WAV of any codec cut short, in its samples or before them, as the Python app refuses it.
 */
export function parseWav(buffer, name) {
  const bytes = new Uint8Array(buffer);
  const view = new DataView(buffer);
  if (bytes.length < 12 || ascii(bytes, 0, 4) !== "RIFF" || ascii(bytes, 8, 4) !== "WAVE") return null;
  let format = null;
  for (let at = 12; at + 8 <= bytes.length;) {
    const id = ascii(bytes, at, 4);
    const size = view.getUint32(at + 4, true);
    if (id !== "data" && at + 8 + size > bytes.length) throw new DemoError(`${name}: not readable audio (its '${id}' chunk is cut short)`);
    if (id === "fmt " && size >= 16) {
      let tag = view.getUint16(at + 8, true);
      if (tag === WAVE_EXTENSIBLE && size >= 26) tag = view.getUint16(at + 32, true);
      format = { tag, channels: view.getUint16(at + 10, true), rate: view.getUint32(at + 12, true), bits: view.getUint16(at + 22, true) };
    } else if (id === "data" && format) {
      const { tag, channels, rate, bits } = format;
      const present = bytes.length - at - 8;
      if (!SIZE_PLACEHOLDERS.includes(size) && present < size) {
        throw new DemoError(`${name}: truncated: header declares ${size} bytes of audio, file holds ${present}`);
      }
      const width = bits / 8;
      const known = (tag === WAVE_PCM && [8, 16, 24, 32].includes(bits)) || (tag === WAVE_FLOAT && [32, 64].includes(bits));
      if (!known || channels < 1 || rate < 1) return null;
      const frames = Math.floor((SIZE_PLACEHOLDERS.includes(size) ? present : size) / (width * channels));
      const out = Array.from({ length: channels }, () => new Float32Array(frames));
      const read = {
        "1:8": (o) => (view.getUint8(o) - 128) / 128,
        "1:16": (o) => view.getInt16(o, true) / 32768,
        "1:24": (o) => ((view.getUint8(o) | (view.getUint8(o + 1) << 8) | (view.getInt8(o + 2) << 16))) / 8388608,
        "1:32": (o) => view.getInt32(o, true) / 2147483648,
        "3:32": (o) => view.getFloat32(o, true),
        "3:64": (o) => view.getFloat64(o, true),
      }[`${tag}:${bits}`];
      for (let i = 0, o = at + 8; i < frames; i++) for (let c = 0; c < channels; c++, o += width) out[c][i] = read(o);
      return { rate, channels: out };
    }
    at += 8 + size + (size & 1);
  }
  throw new DemoError(`${name}: not readable audio (no complete 'data' chunk)`);
}

/** {rate, channels: Float32Array[], warning?} of an audio file's bytes, at its own rate when the header says it. */
export async function decodeAudioFile(buffer, name) {
  if (buffer.byteLength === 0) throw new DemoError(`${name}: empty file`);
  const wav = parseWav(buffer, name);
  if (wav) return checked(wav, name);
  const rate = headerSampleRate(buffer) ?? FALLBACK_RATE;
  let decoded;
  try {
    const context = new OfflineAudioContext(1, 1, rate);
    decoded = await context.decodeAudioData(buffer.slice(0));
  } catch (err) {
    throw new DemoError(`${name}: not an audio file this browser can read (${err.message || err.name})`);
  }
  const channels = Array.from({ length: decoded.numberOfChannels }, (_, c) => decoded.getChannelData(c));
  return checked({ rate: decoded.sampleRate, channels }, name);
}

/** `audio` with `warning` set for a peak above full scale; DemoError for no samples, an odd rate, NaN, Inf or a peak above MAX_PEAK. */
function checked(audio, name) {
  const { rate, channels } = audio;
  if (rate < MIN_RATE || rate > MAX_RATE) {
    throw new DemoError(`${name}: sample rate ${rate} Hz is not an audio rate (${MIN_RATE} Hz to ${MAX_RATE / 1000} kHz)`);
  }
  if (channels[0].length === 0) throw new DemoError(`${name}: no samples`);
  const seconds = (i) => (i / rate).toFixed(2);
  let peak = 0;
  let peakAt = 0;
  for (let i = 0; i < channels[0].length; i++) {
    for (const channel of channels) {
      const x = channel[i];
      if (!Number.isFinite(x)) throw new DemoError(`${name}: contains NaN or Inf samples (${pythonName(x)} at ${seconds(i)} s)`);
      if (Math.abs(x) > peak) [peak, peakAt] = [Math.abs(x), i];
    }
  }
  if (peak > MAX_PEAK) {
    throw new DemoError(`${name}: peak ${precision3(peak)} at ${seconds(peakAt)} s; float audio must lie within about ±1 `
      + `(refused above ${MAX_PEAK}, +${Math.round(20 * Math.log10(MAX_PEAK))} dBFS)`);
  }
  const warning = peak > 1 ? `${name}: peak ${precision3(peak)} at ${seconds(peakAt)} s is above full scale (1.0); processed as it is` : undefined;
  return { rate, channels, peak, warning };
}

/** NaN, inf or -inf, as Python prints them. */
function pythonName(x) {
  return Number.isNaN(x) ? "nan" : x > 0 ? "inf" : "-inf";
}

/** `x` to 3 significant digits, roughly as Python's `{:.3g}` (2.6e+36, 50, 1.69). */
function precision3(x) {
  if (x === 0 || (x >= 1e-4 && x < 1e3)) return String(Number(x.toPrecision(3)));
  return x.toExponential(2).replace(/\.?0+e/, "e").replace(/e([+-])(\d)$/, "e$10$2");
}

/** DemoError naming the input when denoised `channels` are not finite or absurdly louder than the input's `inputPeak`. */
export function checkOutput(channels, inputPeak, name) {
  let peak = 0;
  for (const channel of channels) {
    for (const x of channel) {
      if (!Number.isFinite(x)) throw new DemoError(`${name}: the denoised output is not finite; nothing written`);
      peak = Math.max(peak, Math.abs(x));
    }
  }
  if (peak > MAX_OUTPUT_GAIN * inputPeak + OUTPUT_PEAK_FLOOR) {
    throw new DemoError(`${name}: the denoised output peaks at ${precision3(peak)} against the input's ${precision3(inputPeak)}; nothing written`);
  }
}

/** A 16-bit PCM WAV file of `channels` (Float32Array each, same length) at `rate`. */
export function encodeWav(channels, rate) {
  const frames = channels[0].length;
  const blockAlign = 2 * channels.length;
  const view = new DataView(new ArrayBuffer(44 + frames * blockAlign));
  const text = (at, s) => [...s].forEach((ch, i) => view.setUint8(at + i, ch.charCodeAt(0)));
  text(0, "RIFF");
  view.setUint32(4, 36 + frames * blockAlign, true);
  text(8, "WAVE");
  text(12, "fmt ");
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true);
  view.setUint16(22, channels.length, true);
  view.setUint32(24, rate, true);
  view.setUint32(28, rate * blockAlign, true);
  view.setUint16(32, blockAlign, true);
  view.setUint16(34, 16, true);
  text(36, "data");
  view.setUint32(40, frames * blockAlign, true);
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < channels.length; c++) {
      const x = Math.max(-1, Math.min(1, channels[c][i]));
      view.setInt16(44 + i * blockAlign + 2 * c, Math.round(x * 32767), true);  // libsndfile's float -> PCM_16 scaling
    }
  }
  return new Blob([view.buffer], { type: "audio/wav" });
}
