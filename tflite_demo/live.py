"""Microphone to speakers through a StreamingDenoiser (needs the optional `sounddevice`)."""

from __future__ import annotations

from tflite_demo.stream import DemoError, StreamingDenoiser


def run_live(denoiser: StreamingDenoiser) -> None:
    """Denoise the default input device into the default output device until Ctrl-C."""
    try:
        import sounddevice as sd
    except ImportError:
        raise DemoError("--live needs the sounddevice package (pip install sounddevice)") from None
    except OSError as err:  # the PortAudio library itself is missing
        raise DemoError(f"--live needs PortAudio ({err})") from None
    try:
        sd.check_input_settings(channels=1, samplerate=denoiser.sample_rate, dtype="float32")
        sd.check_output_settings(channels=1, samplerate=denoiser.sample_rate, dtype="float32")
    except (sd.PortAudioError, ValueError) as err:
        raise DemoError(f"no usable audio input/output device at {denoiser.sample_rate} Hz ({err})") from None

    def callback(indata, outdata, frames, time_info, status) -> None:
        outdata[:, 0] = denoiser(indata[:, 0])

    denoiser.reset()
    print(f"denoising microphone -> speakers ({denoiser.latency_ms:.0f} ms algorithmic latency); Ctrl-C stops")
    try:
        with sd.Stream(
            samplerate=denoiser.sample_rate, blocksize=denoiser.hop_length, channels=1, dtype="float32", callback=callback
        ):
            while True:
                sd.sleep(1000)
    except KeyboardInterrupt:
        print("stopped")
    except sd.PortAudioError as err:
        raise DemoError(f"audio device failed ({err})") from None
