"""The names of the export formats and TFLite quantizations, free of TensorFlow so `export --help` lists them fast."""

FORMATS = ("saved_model", "tflite", "streaming_tflite")
# The serving name every example and the Docker files use (/v1/models/denoiser): also the export's default.
SERVING_NAME = "denoiser"
QUANTIZATIONS = ("float32", "float16", "dynamic", "int8")  # of the whole-signal TFLite models
