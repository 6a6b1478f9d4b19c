// A single-producer single-consumer float ring in SharedArrayBuffers, the only thing the audio
// thread (worklet.js) and the processing worker (worker.js) share: no locks, no allocation.

const WRITE = 0;
const READ = 1;
export const STATS = { underruns: 2, overruns: 3, blocks: 4 };
const CONTROL_SLOTS = 5;

/** Shared memory for one ring of at least `capacity` samples (a power of two, so the wrapping
 * counters stay aligned with the slots); post it to both ends. */
export function createRing(capacity) {
  capacity = 2 ** Math.ceil(Math.log2(capacity));
  return {
    data: new SharedArrayBuffer(capacity * Float32Array.BYTES_PER_ELEMENT),
    control: new SharedArrayBuffer(CONTROL_SLOTS * Int32Array.BYTES_PER_ELEMENT),
  };
}

export class Ring {
  constructor({ data, control }) {
    this.data = new Float32Array(data);
    this.control = new Int32Array(control);
    this.capacity = this.data.length;
  }

  /** Samples written and not yet read (counters wrap at 2^32, their difference does not). */
  available() {
    return (Atomics.load(this.control, WRITE) - Atomics.load(this.control, READ)) >>> 0;
  }

  /** Write as much of `samples` as fits; returns how many were written and wakes the reader. */
  push(samples) {
    const write = Atomics.load(this.control, WRITE) >>> 0;
    const n = Math.min(samples.length, this.capacity - this.available());
    for (let i = 0; i < n; i++) this.data[(write + i) % this.capacity] = samples[i];
    Atomics.store(this.control, WRITE, (write + n) | 0);
    Atomics.notify(this.control, WRITE);
    return n;
  }

  /** Read `target.length` samples into `target` if that many are there; returns whether it did. */
  pull(target) {
    if (this.available() < target.length) return false;
    const read = Atomics.load(this.control, READ) >>> 0;
    for (let i = 0; i < target.length; i++) target[i] = this.data[(read + i) % this.capacity];
    Atomics.store(this.control, READ, (read + target.length) | 0);
    return true;
  }

  /** Drop the `n` oldest samples (the reader's side). */
  skip(n) {
    const read = Atomics.load(this.control, READ) >>> 0;
    Atomics.store(this.control, READ, (read + Math.min(n, this.available())) | 0);
  }

  /** Resolves when the writer has written since `available()` was last read, or after `ms`. */
  waitForData(ms) {
    const seen = Atomics.load(this.control, WRITE);
    return Atomics.waitAsync(this.control, WRITE, seen, ms).value;
  }

  count(slot, by = 1) {
    Atomics.add(this.control, slot, by);
  }

  stat(slot) {
    return Atomics.load(this.control, slot);
  }
}
