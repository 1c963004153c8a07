"""Plotting for training; every function returns a Figure."""

__all__: list[str] = []
