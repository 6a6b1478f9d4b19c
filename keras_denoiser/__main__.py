"""`python -m keras_denoiser COMMAND ...` is the same as the `keras_denoiser` console script."""

from keras_denoiser.cli import main

main()
