"""Kernels: arrays in, arrays out, no autograd. ``reference`` is the specification."""
