// Feature checks the page makes before loading anything heavy.

// The smallest module using a v128 instruction: WebAssembly.validate says whether SIMD is there.
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);

/** Whether this browser runs WebAssembly with SIMD, which LiteRT's XNNPACK kernels need. */
export function hasWasmSimd() {
  return typeof WebAssembly === "object" && WebAssembly.validate(SIMD_PROBE);
}

export const NO_SIMD_MESSAGE = "This browser has no WebAssembly SIMD, which LiteRT needs: use a current Chrome, Edge, Firefox or Safari (16.4 or later).";
