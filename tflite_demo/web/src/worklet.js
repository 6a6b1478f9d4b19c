// The audio thread: copies the microphone into the input ring and the output ring to the
// speakers, nothing else (no model, no allocation), so a slow hop never blocks the audio.
// Every render quantum the output ring cannot fill is a dropout, counted in shared memory; each
// one also deepens the output buffer by `prebufferStep` (up to `maxPrebuffer`), as a jitter buffer does.
import { Ring, STATS } from "./ring.js";

class RingIO extends AudioWorkletProcessor {
  constructor({ processorOptions }) {
    super();
    this.input = new Ring(processorOptions.input);
    this.output = new Ring(processorOptions.output);
    this.prebuffer = processorOptions.prebuffer;  // samples the output ring must hold before playing
    this.prebufferStep = processorOptions.prebufferStep;
    this.maxPrebuffer = processorOptions.maxPrebuffer;
    this.playing = false;
    this.mono = new Float32Array(128);
    this.recording = null;
    this.port.onmessage = ({ data }) => {
      if (data.type === "record") this.recording = { frames: data.frames, input: [], output: [], seen: 0 };
    };
  }

  process(inputs, outputs) {
    const channels = inputs[0];
    const mono = this.mono;
    mono.fill(0);
    for (const channel of channels) for (let i = 0; i < mono.length; i++) mono[i] += channel[i] / channels.length;
    this.input.count(STATS.blocks);
    if (this.input.push(mono) < mono.length) this.input.count(STATS.overruns);

    const out = outputs[0];
    if (!this.playing && this.output.available() >= this.prebuffer) {
      // After a stall the worker delivers everything it owed at once; play only the newest
      // prebuffer's worth, or the stall would stay in the latency for good.
      this.output.skip(this.output.available() - this.prebuffer);
      this.playing = true;
    }
    if (this.playing && !this.output.pull(out[0])) {
      out[0].fill(0);
      this.output.count(STATS.underruns);
      this.playing = false;  // refill a deeper prebuffer before playing again
      this.prebuffer = Math.min(this.maxPrebuffer, this.prebuffer + this.prebufferStep);
      this.port.postMessage({ type: "prebuffer", samples: this.prebuffer });
    }
    for (let c = 1; c < out.length; c++) out[c].set(out[0]);
    this.record(mono, out[0]);
    return true;
  }

  /** On request, a copy of the next `frames` input and output samples, posted to the page. */
  record(input, output) {
    const rec = this.recording;
    if (!rec) return;
    rec.input.push(input.slice());
    rec.output.push(output.slice());
    rec.seen += input.length;
    if (rec.seen >= rec.frames) {
      this.port.postMessage({ type: "recorded", input: rec.input, output: rec.output });
      this.recording = null;
    }
  }
}

registerProcessor("ring-io", RingIO);
