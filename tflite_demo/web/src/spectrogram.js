// A scrolling spectrogram on a canvas: one column per hop, newest on the right, log-magnitude
// mapped onto a fixed dB range so input and output are drawn on the same scale.

const FLOOR = Math.log(1e-3);  // natural-log magnitude shown as black (-60 dB)
const CEIL = Math.log(100);  // and as white (+40 dB): a 512-point frame of speech peaks near 20-100
const STOPS = [[0, 0, 4], [60, 15, 110], [180, 55, 120], [250, 140, 60], [252, 253, 191]];  // magma-like

function colour(v) {  // 0..1 -> a dark-to-light ramp through STOPS
  const x = v * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(x));
  const f = x - i;
  return STOPS[i].map((c, k) => Math.round(c + f * (STOPS[i + 1][k] - c)));
}

export class Spectrogram {
  constructor(canvas) {
    this.canvas = canvas;
    this.context = canvas.getContext("2d");
    this.clear();
  }

  clear() {
    this.context.fillStyle = "#000";
    this.context.fillRect(0, 0, this.canvas.width, this.canvas.height);
  }

  /** Append columns (Float32Array of log-magnitudes, bin 0 first), scrolling left. */
  push(columns) {
    const { canvas, context } = this;
    const n = Math.min(columns.length, canvas.width);
    if (!n) return;
    context.drawImage(canvas, n, 0, canvas.width - n, canvas.height, 0, 0, canvas.width - n, canvas.height);
    this.paint(columns.slice(columns.length - n));
  }

  /** Show a whole signal's columns stretched (or thinned) over the full width. */
  draw(columns) {
    if (!columns.length) return this.clear();
    const width = this.canvas.width;
    this.paint(Array.from({ length: width }, (_, x) => columns[Math.floor((x * columns.length) / width)]));
  }

  /** Draw `columns`, one per pixel, at the right edge. */
  paint(columns) {
    const { canvas, context } = this;
    const n = columns.length;
    const image = context.createImageData(n, canvas.height);
    for (let x = 0; x < n; x++) {
      const column = columns[x];
      for (let y = 0; y < canvas.height; y++) {
        const bin = Math.floor(((canvas.height - 1 - y) / canvas.height) * column.length);
        const [r, g, b] = colour(Math.max(0, Math.min(1, (column[bin] - FLOOR) / (CEIL - FLOOR))));
        const at = 4 * (y * n + x);
        image.data.set([r, g, b, 255], at);
      }
    }
    context.putImageData(image, canvas.width - n, 0);
  }
}
