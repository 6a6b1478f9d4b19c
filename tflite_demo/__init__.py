"""On-device demo: streams audio through a TFLite mask model with LiteRT and numpy only."""
