// Streaming STFT and overlap-add inverse, a line-by-line port of tflite_demo/stft.py (float64,
// like numpy), so the browser computes the same spectra and the same output samples.

/** Periodic Hann window, as `tf.signal.hann_window(frameLength)`. */
export function hannWindow(frameLength) {
  const w = new Float64Array(frameLength);
  for (let n = 0; n < frameLength; n++) w[n] = 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / frameLength);
  return w;
}

/** Hann window over the sum of squared Hann windows overlapping each sample. */
export function synthesisWindow(frameLength, hopLength) {
  const window = hannWindow(frameLength);
  const denominator = new Float64Array(hopLength);
  for (let n = 0; n < frameLength; n++) denominator[n % hopLength] += window[n] * window[n];
  return window.map((w, n) => w / denominator[n % hopLength]);
}

/** In-place radix-2 complex FFT of length n (a power of two); `inverse` leaves out the 1/n. */
class FFT {
  constructor(n) {
    if (n < 2 || (n & (n - 1)) !== 0) throw new Error(`frame length ${n} is not a power of two`);
    this.n = n;
    this.cos = new Float64Array(n / 2);
    this.sin = new Float64Array(n / 2);
    for (let k = 0; k < n / 2; k++) {
      this.cos[k] = Math.cos((2 * Math.PI * k) / n);
      this.sin[k] = Math.sin((2 * Math.PI * k) / n);
    }
    this.re = new Float64Array(n);
    this.im = new Float64Array(n);
  }

  transform(inverse) {
    const { n, re, im } = this;
    for (let i = 1, j = 0; i < n; i++) {
      let bit = n >> 1;
      for (; j & bit; bit >>= 1) j ^= bit;
      j ^= bit;
      if (i < j) {
        [re[i], re[j]] = [re[j], re[i]];
        [im[i], im[j]] = [im[j], im[i]];
      }
    }
    const sign = inverse ? 1 : -1;
    for (let size = 2; size <= n; size <<= 1) {
      const half = size >> 1;
      const step = n / size;
      for (let start = 0; start < n; start += size) {
        for (let k = 0; k < half; k++) {
          const c = this.cos[k * step];
          const s = sign * this.sin[k * step];
          const a = start + k;
          const b = a + half;
          const tr = re[b] * c - im[b] * s;
          const ti = re[b] * s + im[b] * c;
          re[b] = re[a] - tr;
          im[b] = im[a] - ti;
          re[a] += tr;
          im[a] += ti;
        }
      }
    }
  }
}

/** One spectrum per hop of new samples; the first frame sees `frameLength - hopLength` zeros of past. */
export class StreamingSTFT {
  constructor(frameLength, hopLength) {
    this.hopLength = hopLength;
    this.window = hannWindow(frameLength);
    this.buffer = new Float64Array(frameLength);
    this.fft = new FFT(frameLength);
    this.bins = frameLength / 2 + 1;
  }

  reset() {
    this.buffer.fill(0);
  }

  /** Spectrum {re, im} (Float64Array[bins] each, fresh) of the last frameLength samples, `hop` included. */
  call(hop) {
    const { buffer, hopLength, fft } = this;
    buffer.copyWithin(0, hopLength);
    buffer.set(hop, buffer.length - hopLength);
    for (let n = 0; n < buffer.length; n++) fft.re[n] = buffer[n] * this.window[n];
    fft.im.fill(0);
    fft.transform(false);
    return { re: fft.re.slice(0, this.bins), im: fft.im.slice(0, this.bins) };
  }
}

/**
 * Overlap-add: takes one spectrum per hop, returns the hopLength samples it completes. The samples
 * returned for frame t are those frame t's analysis buffer started with (a `frameLength - hopLength` lag).
 */
export class StreamingISTFT {
  constructor(frameLength, hopLength) {
    this.frameLength = frameLength;
    this.hopLength = hopLength;
    this.window = synthesisWindow(frameLength, hopLength);
    this.buffer = new Float64Array(frameLength);
    this.fft = new FFT(frameLength);
  }

  reset() {
    this.buffer.fill(0);
  }

  call(spectrum) {
    const { frameLength: n, hopLength, fft, buffer } = this;
    const bins = n / 2 + 1;
    for (let k = 0; k < bins; k++) {
      fft.re[k] = spectrum.re[k];
      fft.im[k] = spectrum.im[k];
    }
    for (let k = bins; k < n; k++) {  // Hermitian half, as numpy's irfft assumes
      fft.re[k] = spectrum.re[n - k];
      fft.im[k] = -spectrum.im[n - k];
    }
    fft.transform(true);
    for (let i = 0; i < n; i++) buffer[i] += (fft.re[i] / n) * this.window[i];
    const done = buffer.slice(0, hopLength);
    buffer.copyWithin(0, hopLength);
    buffer.fill(0, n - hopLength);
    return done;
  }
}
