"""Plotting for labels; every function returns a Figure."""

__all__: list[str] = []
