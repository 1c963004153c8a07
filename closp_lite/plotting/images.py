"""Plotting for images; every function returns a Figure."""

__all__: list[str] = []
