"""Microphone to speakers through a StreamingDenoiser, at the device's own rate (needs `sounddevice`)."""

from __future__ import annotations

import numpy as np

from tflite_demo.resample import StreamResampler
from tflite_demo.stream import DemoError, HopStream, StreamingDenoiser


class DeviceRateStream:
    """Blocks at the device's rate in, as many out: resample to the model's rate, run whole hops,
    resample back. The output starts once `prebuffer` samples are queued; a block it cannot fill
    after that is a dropout, counted in `dropouts` and played as silence."""

    def __init__(self, hops: HopStream, model_rate: int, device_rate: int, prebuffer: int) -> None:
        self.hops = hops
        self.to_model = StreamResampler(device_rate, model_rate)
        self.to_device = StreamResampler(model_rate, device_rate)
        self.pending = np.zeros(0, np.float32)  # model-rate input not yet a whole hop
        self.queued = np.zeros(0, np.float32)  # device-rate output not yet played
        self.prebuffer = prebuffer
        self.playing = False
        self.dropouts = 0

    def __call__(self, block: np.ndarray) -> np.ndarray:
        hop = self.hops.hop_length
        self.pending = np.concatenate([self.pending, self.to_model.push(block)])
        whole = len(self.pending) // hop * hop
        if whole:
            out = np.concatenate([self.hops(h) for h in self.pending[:whole].reshape(-1, hop)])
            self.queued = np.concatenate([self.queued, self.to_device.push(out)])
            self.pending = self.pending[whole:]
        if not self.playing and len(self.queued) >= self.prebuffer:
            self.playing = True
        if not self.playing:
            return np.zeros(len(block), np.float32)
        if len(self.queued) < len(block):
            self.dropouts += 1
            self.playing = False  # refill the prebuffer before playing again
            return np.zeros(len(block), np.float32)
        played, self.queued = self.queued[: len(block)], self.queued[len(block) :]
        return played


def run_live(denoiser: StreamingDenoiser) -> None:
    """Denoise the default input device into the default output device until Ctrl-C."""
    try:
        import sounddevice as sd
    except ImportError:
        raise DemoError("--live needs the sounddevice package (pip install sounddevice)") from None
    except OSError as err:  # the PortAudio library itself is missing
        raise DemoError(f"--live needs PortAudio ({err})") from None
    try:
        rate = int(sd.query_devices(kind="input")["default_samplerate"])
        sd.check_input_settings(channels=1, samplerate=rate, dtype="float32")
        sd.check_output_settings(channels=1, samplerate=rate, dtype="float32")
    except (sd.PortAudioError, ValueError) as err:
        raise DemoError(f"no usable audio input/output device ({err})") from None
    block = max(1, round(denoiser.hop_length * rate / denoiser.sample_rate))
    stream = DeviceRateStream(denoiser, denoiser.sample_rate, rate, prebuffer=2 * block)

    def callback(indata, outdata, frames, time_info, status) -> None:
        outdata[:, 0] = stream(indata[:, 0])

    denoiser.reset()
    print(f"denoising microphone -> speakers at {rate} Hz ({denoiser.latency_ms:.0f} ms algorithmic latency); Ctrl-C stops")
    try:
        with sd.Stream(samplerate=rate, blocksize=block, channels=1, dtype="float32", callback=callback):
            while True:
                sd.sleep(1000)
    except KeyboardInterrupt:
        print(f"stopped ({stream.dropouts} dropouts)")
    except sd.PortAudioError as err:
        raise DemoError(f"audio device failed ({err})") from None
