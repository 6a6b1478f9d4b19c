"""The streaming denoiser as a web page (LiteRT.js), and the small local server that serves it."""
