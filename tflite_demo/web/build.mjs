// Builds dist/: the page, its three scripts bundled (the worker imports @litertjs/core, whose
// bare imports a browser cannot resolve), and LiteRT's single-thread wasm runtimes, so the page
// loads nothing from a CDN. Run by `npm ci` (the `prepare` script) or `npm run build`.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";

const here = import.meta.dirname;
const dist = join(here, "dist");
// LiteRT picks the relaxed-SIMD build, or the plain-SIMD "compat" one; the page asks for neither
// threads nor JSPI, so their builds are not shipped.
const WASM = ["litert_wasm_internal.js", "litert_wasm_internal.wasm", "litert_wasm_compat_internal.js", "litert_wasm_compat_internal.wasm"];

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
const bundle = (names, format) => build({
  entryPoints: names.map((name) => join(here, "src", name)),
  outdir: dist,
  bundle: true,
  format,
  target: "es2022",
  sourcemap: true,
  logLevel: "warning",
});
await bundle(["app.js", "worklet.js"], "esm");
await bundle(["worker.js"], "iife");  // a classic worker: LiteRT loads its wasm glue with importScripts()
for (const name of readdirSync(join(here, "static"))) copyFileSync(join(here, "static", name), join(dist, name));
// Beside worker.js: the wasm glue, loaded by importScripts(), looks for its .wasm next to the worker.
for (const name of WASM) copyFileSync(join(here, "node_modules", "@litertjs", "core", "wasm", name), join(dist, name));
console.log(`built ${dist}`);
