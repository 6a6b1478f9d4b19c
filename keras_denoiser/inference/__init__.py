"""Inference: chunked waveform enhancement, file denoising, the Python API (`Denoiser`) and the TF Serving client."""
