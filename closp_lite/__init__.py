"""closp-lite: text-to-satellite-image retrieval beyond RGB, for teaching and at full scale.

One small library that every chapter of the book imports (chapter 0 gives the tour).
Heavy dependencies (torch, torchgeo, transformers) are imported lazily by the modules
that need them, so ``import closp_lite`` stays fast.
"""

from closp_lite.config import Mode, ScaleSettings, Settings, data_dir, get_device, get_mode, resolve, seed_everything, settings
from closp_lite.display import register_figure_formatter

# In a Jupyter kernel, figures returned by the plotting functions display as pictures (chapter 0).
register_figure_formatter()

__version__ = "0.1.0"

__all__ = [
    "Mode",
    "ScaleSettings",
    "Settings",
    "__version__",
    "data_dir",
    "get_device",
    "get_mode",
    "resolve",
    "seed_everything",
    "settings",
]
