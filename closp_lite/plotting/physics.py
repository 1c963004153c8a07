"""Plotting for physics; every function returns a Figure."""

__all__: list[str] = []
