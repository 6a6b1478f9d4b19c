// LiteRT.js side of the streaming model: load the runtime once, check a model against the
// streaming contract its sidecar states, and run it one frame at a time with explicit states.
import { Tensor, loadAndCompile, loadLiteRt } from "@litertjs/core";
import { DemoError } from "./stream.js";
import { NO_SIMD_MESSAGE, hasWasmSimd } from "./support.js";

let runtime = null;

/** Load LiteRT's wasm runtime from `wasmUrl` (served locally) once per worker. */
export function loadRuntime(wasmUrl) {
  if (!hasWasmSimd()) {
    throw new DemoError(NO_SIMD_MESSAGE);
  }
  runtime ??= loadLiteRt(wasmUrl);
  return runtime;
}

const sameShape = (a, b) => a.length === b.length && a.every((v, i) => Number(v) === Number(b[i]));

/** Every way the model's inputs and outputs differ from what the sidecar promises; empty if none. */
export function contractProblems(inputs, outputs, spec) {
  const bins = spec.frameLength / 2 + 1;
  const wantIn = new Map([[spec.inputName, [1, 1, bins]], ...spec.states.map((s) => [s.input, s.shape])]);
  const wantOut = new Map([[spec.maskName, [1, 1, bins]], ...spec.states.map((s) => [s.output, s.shape])]);
  const problems = [];
  for (const [kind, have, want] of [["input", inputs, wantIn], ["output", outputs, wantOut]]) {
    const byName = new Map(have.map((d) => [d.name, d]));
    for (const [name, shape] of want) {
      const d = byName.get(name);
      if (!d) problems.push(`no ${kind} "${name}"`);
      else if (d.dtype !== "float32") problems.push(`${kind} "${name}" is ${d.dtype}, not float32`);
      else if (!sameShape(Array.from(d.shape), shape)) problems.push(`${kind} "${name}" has shape [${Array.from(d.shape)}], not [${shape}]`);
    }
    for (const name of byName.keys()) if (!want.has(name)) problems.push(`unexpected ${kind} "${name}"`);
  }
  return problems;
}

/** A compiled streaming model that keeps its own states: step(logMagnitude) -> mask. */
export class StepModel {
  static async load(bytes, spec, name) {
    let compiled;
    try {
      compiled = await loadAndCompile(bytes, { accelerator: "wasm", cpuOptions: { numThreads: 1 } });
    } catch (err) {
      throw new DemoError(`${name}: not a TFLite model LiteRT can run (${String(err.message || err).split("\n")[0]})`);
    }
    const problems = contractProblems(compiled.getInputDetails(), compiled.getOutputDetails(), spec);
    if (problems.length) {
      compiled.delete();
      throw new DemoError(`${name} does not match the streaming contract of its sidecar: ${problems.slice(0, 4).join("; ")}`);
    }
    return new StepModel(compiled, spec);
  }

  constructor(compiled, spec) {
    this.compiled = compiled;
    this.spec = spec;
    this.frameShape = [1, 1, spec.frameLength / 2 + 1];
    this.states = null;
  }

  /** Zero states: the same zeros the offline model pads the past with. */
  reset() {
    this.deleteStates();
    this.states = new Map(this.spec.states.map((s) => [s.input, new Tensor(new Float32Array(s.shape.reduce((a, b) => a * b, 1)), s.shape)]));
  }

  /** One model step: the mask for a log-magnitude frame; the next states stay in wasm memory as the new inputs. */
  async step(logMagnitude) {
    const inputs = { [this.spec.inputName]: new Tensor(logMagnitude, this.frameShape) };
    for (const [name, tensor] of this.states) inputs[name] = tensor;
    const outputs = await this.compiled.run(inputs);
    inputs[this.spec.inputName].delete();
    const mask = outputs[this.spec.maskName];
    const values = mask.toTypedArray().slice();
    mask.delete();
    for (const s of this.spec.states) {
      this.states.get(s.input).delete();
      this.states.set(s.input, outputs[s.output]);
    }
    return values;
  }

  deleteStates() {
    if (this.states) for (const tensor of this.states.values()) tensor.delete();
    this.states = null;
  }

  delete() {
    this.deleteStates();
    this.compiled.delete();
  }
}
