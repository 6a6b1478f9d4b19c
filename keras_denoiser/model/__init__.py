"""The networks: the U-Nets (`unet.py`) and saving/loading a model with its config (`model_io.py`). Builds on the core only."""
