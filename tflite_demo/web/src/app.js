// The page: model choice, file mode, live mode, statistics and messages. All audio processing
// runs in worker.js (LiteRT and the streaming loop) and worklet.js (the audio thread).
import { checkOutput, decodeAudioFile, encodeWav } from "./audio_file.js";
import { resampleSignal } from "./resample.js";
import { Ring, STATS, createRing } from "./ring.js";
import { Spectrogram } from "./spectrogram.js";
import { NO_SIMD_MESSAGE, hasWasmSimd } from "./support.js";

const WASM_URL = new URL("./", location.href).href;  // LiteRT wasm files sit beside worker.js
const NO_LIMIT = 61;  // the attenuation slider's last step
const $ = (id) => document.getElementById(id);

/** Promise-based calls into the worker; unsolicited messages go to `listeners`. */
class WorkerClient {
  constructor(url) {
    this.worker = new Worker(url);  // classic: LiteRT loads its glue with importScripts()
    this.pending = new Map();
    this.listeners = {};
    this.nextId = 1;
    this.worker.onmessage = ({ data }) => {
      if (data.id === undefined) return this.listeners[data.type]?.(data);
      const { resolve, reject } = this.pending.get(data.id);
      this.pending.delete(data.id);
      if (data.error) reject(new Error(data.error));
      else resolve(data.result);
    };
    this.worker.onerror = (event) => {  // the worker itself failed (e.g. its script did not load)
      const error = new Error(`The processing worker failed: ${event.message || "see the browser console"}; reload the page.`);
      for (const { reject } of this.pending.values()) reject(error);
      this.pending.clear();
    };
  }

  call(type, payload = {}, transfer = []) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, type, ...payload }, transfer);
    });
  }
}

function showMessage(text, kind = "error") {
  const box = $("message");
  box.textContent = text;
  box.className = kind;
  box.hidden = !text;
  app.lastMessage = { text, kind };
}

function fmt(x, digits) {
  return Number.isFinite(x) ? x.toFixed(digits) : "–";
}

function showTiming(timing, rtf = timing.rtf) {
  $("stat-hop").textContent = `${fmt(timing.medianMs, 3)} / ${fmt(timing.p99Ms, 3)}  (${timing.hops} hops)`;
  $("stat-rtf").textContent = fmt(rtf, 3);
}

function showDropouts(count) {
  $("stat-dropouts").textContent = String(count);
  $("stat-dropouts").classList.toggle("bad", count > 0);
}

function maxAttenuationDb() {
  const v = Number($("attenuation").value);
  return v >= NO_LIMIT ? null : v;
}

function setAttenuation(db) {
  $("attenuation").value = db === null || db === undefined ? NO_LIMIT : Math.min(60, Math.round(db));
  $("attenuation-value").textContent = maxAttenuationDb() === null ? "no limit" : `${maxAttenuationDb()} dB`;
}

/** State the tests (and a curious user in the console) can read: `window.denoiserApp`. */
const app = { model: null, lastFile: null, lastMessage: null, busy: false, live: null, resampleSignal };
window.denoiserApp = app;

let worker;
const spectrograms = { input: new Spectrogram($("spec-in")), output: new Spectrogram($("spec-out")) };

/** Load a model into the worker; null when it is now the model in use, else why it is not. */
async function loadModel(name, bytes, sidecar, sidecarName) {
  $("model-info").textContent = `loading ${name}…`;
  try {
    app.model = await worker.call("model", { wasmUrl: WASM_URL, name, bytes, sidecar, sidecarName }, [bytes]);
    const m = app.model;
    $("model-info").textContent = `${m.name} (${m.quantization}, ${m.sampleRate / 1000} kHz, ${m.latencyMs.toFixed(0)} ms latency)`;
    setAttenuation(m.maxAttenuationDb);
    showMessage("");
    return null;
  } catch (err) {
    $("model-info").textContent = app.model ? `${app.model.name} (still loaded)` : "no model";
    return err.message;
  }
}

/** The list shows a model loaded from disk as its own (unselectable) entry, so any listed model can be chosen again. */
function showDiskModel(name) {
  const select = $("model-select");
  select.querySelector("option[data-disk]")?.remove();
  const option = new Option(`${name} (from disk)`, "", true, true);
  option.dataset.disk = "true";
  option.disabled = true;
  select.add(option);
}

/** Fetch and load one model of the server's list; null when it is now the model in use, else why it is not. */
async function fetchModel(entry) {
  try {
    const [tflite, json] = await Promise.all([fetch(entry.tflite), fetch(entry.json)]);
    if (!tflite.ok || !json.ok) throw new Error(`the server answered ${tflite.status} / ${json.status}`);
    const sidecar = await json.json().catch(() => null);
    return await loadModel(entry.name, await tflite.arrayBuffer(), sidecar, entry.name.replace(/\.tflite$/, ".json"));
  } catch (err) {
    return `${entry.name}: could not load (${err.message})`;
  }
}

async function loadServerModel(entry) {
  const problem = await fetchModel(entry);
  if (problem) await fallBack(problem, entry);
}

/** A chosen model failed in this browser (the server checks only its sidecar): the bundled model
 * takes its place, unless the bundled model is what failed, and the message says so. */
async function fallBack(problem, failed = null) {
  const bundled = app.models?.find((m) => m.bundled);
  if (!bundled || bundled === failed || app.live) return showMessage(problem);
  $("model-select").querySelector("option[data-disk]")?.remove();
  $("model-select").value = String(app.models.indexOf(bundled));
  const again = await fetchModel(bundled);
  showMessage(again ? `${problem}. The bundled model failed too: ${again}` : `${problem}. Using the bundled model ${bundled.name} instead.`);
}

async function loadModelFiles(files) {
  const tflite = files.find((f) => f.name.endsWith(".tflite"));
  const json = files.find((f) => f.name.endsWith(".json"));
  if (!tflite || !json) return showMessage("Choose a streaming .tflite model and its .json sidecar together (select both files).");
  let sidecar = null;
  try {
    sidecar = JSON.parse(await json.text());
  } catch {
    return showMessage(`${json.name}: not JSON`);
  }
  const problem = await loadModel(tflite.name, await tflite.arrayBuffer(), sidecar, json.name);
  if (!problem) showDiskModel(tflite.name);
  else if (app.model) showMessage(problem);  // the model in use stays, and its entry stays selected
  else await fallBack(problem);
}

function drawFileSpectra({ input, output }) {
  spectrograms.input.draw(input);
  spectrograms.output.draw(output);
}

async function denoiseFile(file) {
  if (app.busy || app.live) return showMessage("Wait for the current file, or stop live mode, first.", "info");
  app.busy = true;
  showMessage("");
  $("file-progress").hidden = false;
  try {
    const buffer = await file.arrayBuffer();
    const { rate, channels, peak, warning } = await decodeAudioFile(buffer, file.name);
    const result = await worker.call("file", { channels, rate, maxAttenuationDb: maxAttenuationDb() });
    checkOutput(result.channels, peak, file.name);
    const wav = encodeWav(result.channels, rate);
    for (const id of ["noisy-audio", "denoised-audio"]) if ($(id).src) URL.revokeObjectURL($(id).src);
    $("noisy-audio").src = URL.createObjectURL(file);
    $("denoised-audio").src = URL.createObjectURL(wav);
    $("download").href = $("denoised-audio").src;
    $("download").download = `${file.name.replace(/\.[^.]*$/, "")}_denoised.wav`;
    $("players").hidden = false;
    showTiming(result.timing);
    $("stat-dropouts").textContent = "– (files are not played in real time)";
    $("stat-dropouts").classList.remove("bad");
    drawFileSpectra(result.spectra);
    app.lastFile = { name: file.name, rate, channels: result.channels, timing: result.timing };
    if (warning) showMessage(warning, "info");  // a hot input: processed, said once it is done
  } catch (err) {
    showMessage(err.message);
  } finally {
    app.busy = false;
    $("file-progress").hidden = true;
  }
}

/** The microphone, raw (no echo cancellation, noise suppression or gain control), or a clear Error. */
async function openMicrophone() {
  if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia) {
    throw new Error("Browsers allow the microphone only on https:// pages or on localhost; open the page through localhost or HTTPS (see docs/web_app.md).");
  }
  try {
    return await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
  } catch (err) {
    if (err.name === "NotAllowedError" || err.name === "SecurityError") {
      throw new Error("Microphone access was denied. Allow the microphone for this page (the icon left of the address) and press Start again.");
    }
    throw new Error(err.name === "NotFoundError" ? "No microphone was found." : `The microphone could not be opened (${err.name}: ${err.message}).`);
  }
}

/** Live mode: microphone -> worklet -> ring -> worker -> ring -> worklet -> speakers. */
async function startLive() {
  if (!app.model) throw new Error("No model is loaded.");
  if (!window.crossOriginIsolated) {
    throw new Error("Live mode needs cross-origin isolation (SharedArrayBuffer); serve the page with `python -m tflite_demo.web`.");
  }
  const stream = await openMicrophone();
  const context = new AudioContext({ latencyHint: "interactive" });
  try {
    await context.audioWorklet.addModule("worklet.js");
    const rate = context.sampleRate;
    const rings = { input: createRing(rate), output: createRing(rate) };
    const quantum = (ms) => 128 * Math.ceil((ms / 1000) * rate / 128);
    const prebuffer = quantum(40);  // jitter room for the worker; grows by 20 ms after a dropout
    const node = new AudioWorkletNode(context, "ring-io", {
      numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [2],
      processorOptions: { ...rings, prebuffer, prebufferStep: quantum(20), maxPrebuffer: quantum(300) },
    });
    context.createMediaStreamSource(stream).connect(node);
    node.connect(context.destination);
    const inRing = new Ring(rings.input);
    const outRing = new Ring(rings.output);
    const dropouts = () => outRing.stat(STATS.underruns) + outRing.stat(STATS.overruns) + inRing.stat(STATS.overruns);
    const ended = new Promise((resolve) => { worker.listeners["live-ended"] = resolve; });
    app.live = { context, stream, node, dropouts, rate, ended, timer: setInterval(() => showDropouts(dropouts()), 250) };
    await worker.call("settings", { bypass: $("bypass").checked, maxAttenuationDb: maxAttenuationDb() });
    await worker.call("live", { ...rings, deviceRate: rate });
    await context.resume();
    ended.then(({ error }) => error && stopLive().then(() => showMessage(error)));  // the worker gave up
    spectrograms.input.clear();
    spectrograms.output.clear();
    showDropouts(0);
    $("live-toggle").textContent = "Stop";
    showLiveInfo(prebuffer);
    node.port.onmessage = ({ data }) => data.type === "prebuffer" && showLiveInfo(data.samples);
  } catch (err) {
    clearInterval(app.live?.timer);
    app.live = null;
    stream.getTracks().forEach((t) => t.stop());
    await context.close();
    throw err;
  }
}

function showLiveInfo(prebuffer) {
  const { rate } = app.live;
  $("live-info").textContent = `device ${rate} Hz; latency ${app.model.latencyMs.toFixed(0)} ms model + ${(1000 * prebuffer / rate).toFixed(0)} ms output buffer`;
}

async function stopLive() {
  const live = app.live;
  if (!live || live.stopping) return;
  live.stopping = true;
  await worker.call("stop");
  await live.ended;
  clearInterval(live.timer);
  showDropouts(live.dropouts());
  live.stream.getTracks().forEach((t) => t.stop());
  await live.context.close();
  app.live = null;
  $("live-toggle").textContent = "Start";
}

/** The next `seconds` of live input and output, as the audio thread saw them, and the dropouts meanwhile. */
app.recordLive = (seconds) => new Promise((resolve) => {
  const { node, rate, dropouts } = app.live;
  const before = dropouts();
  const previous = node.port.onmessage;
  node.port.onmessage = ({ data }) => {
    if (data.type !== "recorded") return previous({ data });
    node.port.onmessage = previous;
    const join = (blocks) => {
      const out = new Float32Array(blocks.length * 128);
      blocks.forEach((b, i) => out.set(b, i * 128));
      return out;
    };
    app.lastRecording = { rate, input: join(data.input), output: join(data.output), dropouts: dropouts() - before };
    resolve(app.lastRecording);
  };
  node.port.postMessage({ type: "record", frames: Math.round(seconds * rate) });
});

function wireControls() {
  $("model-select").onchange = () => {
    $("model-select").querySelector("option[data-disk]")?.remove();
    loadServerModel(app.models[Number($("model-select").value)]);
  };
  $("model-files").onchange = (e) => {
    const files = [...e.target.files];
    e.target.value = "";
    loadModelFiles(files);
  };
  $("file-input").onchange = (e) => {
    const file = e.target.files[0];
    e.target.value = "";  // choosing the same file again is a new request
    if (file) denoiseFile(file);
  };
  const zone = $("drop-zone");
  zone.ondragover = (e) => { e.preventDefault(); zone.classList.add("over"); };
  zone.ondragleave = () => zone.classList.remove("over");
  zone.ondrop = (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    if (e.dataTransfer.files[0]) denoiseFile(e.dataTransfer.files[0]);
  };
  const sendSettings = () => worker.call("settings", { bypass: $("bypass").checked, maxAttenuationDb: maxAttenuationDb() });
  $("attenuation").oninput = () => { setAttenuation(maxAttenuationDb()); sendSettings(); };
  $("bypass").onchange = sendSettings;
  $("live-toggle").onclick = () => (app.live ? stopLive() : startLive()).catch((err) => showMessage(err.message));
  for (const tab of document.querySelectorAll(".tab")) {
    tab.onclick = () => {
      for (const t of document.querySelectorAll(".tab")) {
        t.classList.toggle("active", t === tab);
        $(t.dataset.panel).hidden = t !== tab;
      }
    };
  }
  worker.listeners.progress = ({ fraction }) => { $("progress").value = fraction; };
  worker.listeners.spectra = ({ noisy, output }) => {
    spectrograms.input.push(noisy);
    spectrograms.output.push(output);
  };
  worker.listeners.stats = ({ timing, rtf }) => showTiming(timing, rtf);
}

async function main() {
  if (!hasWasmSimd()) {
    $("model-info").textContent = "no model";
    return showMessage(NO_SIMD_MESSAGE);
  }
  worker = new WorkerClient("worker.js");
  wireControls();
  try {
    const response = await fetch("models/index.json");
    app.models = await response.json();
  } catch (err) {
    return showMessage(`Could not list the models (${err.message}); is the server running?`);
  }
  $("model-select").replaceChildren(...app.models.map((m, i) => new Option(m.name, String(i))));
  $("model-select").disabled = false;
  await loadServerModel(app.models[0]);
}

app.ready = main();
