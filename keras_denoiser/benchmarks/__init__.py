"""Speed measurements: the `benchmark pipeline` (input graph, training steps) and `benchmark inference` (per-hop) work."""
