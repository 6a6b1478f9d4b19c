"""Training: the resumable loop, its callbacks, TensorBoard preview, step-exact backups and the distribution strategy."""
