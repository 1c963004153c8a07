"""Models of closp-lite (chapter 5): the MiniLM text tower, image towers and the three-tower CLOSP.

Import the submodules (``closp_lite.models.text``, ``.image``, ``.closp``, ``.openclip`` for the
zero-shot open_clip RGB baselines, ``.efficientnet`` for the ImageNet EfficientNet-Lite0 of
chapter 8); this package imports nothing heavy itself.
"""
