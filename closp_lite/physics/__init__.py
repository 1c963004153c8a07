"""Sentinel-2 optical physics (:mod:`.optical`, chapter 1) and Sentinel-1 radar physics (:mod:`.sar`, chapter 2)."""

from closp_lite.physics import optical, sar

__all__ = ["optical", "sar"]
