"""Benchmarks of the chain and the model: the `bench` extra."""
