"""Plotting for retrieval; every function returns a Figure."""

__all__: list[str] = []
