"""One module per CLI command: absl flags at module level and `main(argv)`; library code does the work."""
