// Streaming band-limited resampling (Kaiser-windowed sinc) between the device's rate and the
// model's. The kernel is symmetric, so output sample n sits exactly at input time n * inRate / outRate:
// resampleSignal() needs no delay correction, and a stream just waits `halfWidth` input samples.

const ZERO_CROSSINGS = 16;  // per side, at the lower of the two rates
const TABLE_STEPS = 512;  // kernel samples per input sample (linear interpolation between them)
const KAISER_BETA = 8.6;

function besselI0(x) {
  let sum = 1;
  let term = 1;
  for (let k = 1; k < 40; k++) {
    term *= (x / (2 * k)) ** 2;
    sum += term;
  }
  return sum;
}

export class Resampler {
  constructor(inRate, outRate) {
    this.inRate = inRate;
    this.outRate = outRate;
    const scale = Math.min(1, outRate / inRate);
    const cutoff = 0.5 * scale * 0.94;  // cycles per input sample, just below the lower Nyquist
    this.halfWidth = Math.ceil(ZERO_CROSSINGS / scale);
    this.table = new Float64Array(this.halfWidth * TABLE_STEPS + 2);
    for (let i = 0; i < this.table.length; i++) {
      const t = i / TABLE_STEPS;
      const x = t / this.halfWidth;
      const window = x < 1 ? besselI0(KAISER_BETA * Math.sqrt(1 - x * x)) / besselI0(KAISER_BETA) : 0;
      const sinc = t === 0 ? 1 : Math.sin(2 * Math.PI * cutoff * t) / (2 * Math.PI * cutoff * t);
      this.table[i] = 2 * cutoff * sinc * window;
    }
    this.buffer = new Float32Array(4096);
    this.base = -this.halfWidth;  // absolute input index of buffer[0]; the past before 0 is silence
    this.length = this.halfWidth;
    this.produced = 0;  // output samples so far
  }

  kernel(t) {
    const x = Math.abs(t) * TABLE_STEPS;
    const i = Math.floor(x);
    return i + 1 < this.table.length ? this.table[i] + (x - i) * (this.table[i + 1] - this.table[i]) : 0;
  }

  /** Append input samples; returns every output sample they complete. */
  push(samples) {
    if (this.length + samples.length > this.buffer.length) {
      const grown = new Float32Array(Math.max(2 * this.buffer.length, this.length + samples.length));
      grown.set(this.buffer.subarray(0, this.length));
      this.buffer = grown;
    }
    this.buffer.set(samples, this.length);
    this.length += samples.length;
    const end = this.base + this.length;  // inputs [base, end) are known
    // outputs n with floor(n * inRate / outRate) + halfWidth < end are complete
    const last = Math.floor(((end - this.halfWidth) * this.outRate - 1) / this.inRate);
    const out = new Float32Array(Math.max(0, last + 1 - this.produced));
    for (let j = 0; j < out.length; j++, this.produced++) {
      const whole = Math.floor((this.produced * this.inRate) / this.outRate);
      const frac = ((this.produced * this.inRate) % this.outRate) / this.outRate;
      let acc = 0;
      for (let i = whole - this.halfWidth + 1; i <= whole + this.halfWidth; i++) {
        acc += this.buffer[i - this.base] * this.kernel(i - whole - frac);
      }
      out[j] = acc;
    }
    const keepFrom = Math.floor((this.produced * this.inRate) / this.outRate) - this.halfWidth + 1;
    if (keepFrom > this.base + 1024) {
      this.buffer.copyWithin(0, keepFrom - this.base, this.length);
      this.length -= keepFrom - this.base;
      this.base = keepFrom;
    }
    return out;
  }

  /** The outputs still waiting for look-ahead, computed as if silence followed. */
  flush() {
    return this.push(new Float32Array(this.halfWidth + 1));
  }
}

/** A whole signal at another rate, `round(length * outRate / inRate)` samples, time-aligned. */
export function resampleSignal(wave, inRate, outRate) {
  if (inRate === outRate) return Float32Array.from(wave);
  const resampler = new Resampler(inRate, outRate);
  const head = resampler.push(wave);
  const tail = resampler.flush();
  const out = new Float32Array(Math.round((wave.length * outRate) / inRate));
  out.set(head.subarray(0, out.length));
  if (head.length < out.length) out.set(tail.subarray(0, out.length - head.length), head.length);
  return out;
}
