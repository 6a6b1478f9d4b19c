"""The signal and feature core: config, errors, atomic writes, audio I/O, STFT features, metrics, asset paths. Imports nothing else of ours."""
