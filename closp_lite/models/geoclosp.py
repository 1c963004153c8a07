"""GeoCLOSP: CLOSP with a location tower that shapes the image towers during training (chapter 7).

The text and image towers are CLOSP's. A :class:`~closp_lite.models.location.LocationEncoder`
maps each patch's centre (lon, lat) into the same 384-d space, and the GeoCLOSP loss
(:class:`closp_lite.losses.GeoClospLoss`) adds location <-> image terms to the image <-> text
terms. Location is never added to an image or text embedding: retrieval stays text -> image and
works exactly as with CLOSP; after training the location tower also answers "where on Earth is
this image?" (:mod:`closp_lite.geolocation`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import torch

from closp_lite.models.closp import CLOSP, ModelConfig
from closp_lite.models.location import LocationEncoder


class GeoCLOSP(CLOSP):
    """CLOSP's three towers plus a location encoder (chapter 7).

    ``config.location_trainable`` selects a trainable SIREN; the default freezes it, as upstream
    freezes its pretrained SatCLIP encoder (see :mod:`closp_lite.models.location`).
    """

    def __init__(self, config: ModelConfig | None = None) -> None:
        config = replace(config or ModelConfig(), kind="geoclosp")
        super().__init__(config)
        self.location = LocationEncoder(trainable=config.location_trainable)

    def encode_location(self, lonlat: torch.Tensor) -> torch.Tensor:
        """Embed (N, 2) lon/lat degrees to (N, 384) unit vectors on the model's device (chapter 7)."""
        return self.location(lonlat)

    def features(
        self,
        images: torch.Tensor,
        batch: Mapping[str, Any],
        modality: str | None = None,
    ) -> tuple[torch.Tensor, ...]:
        """(image, text, location) embeddings of one modality's batch (chapter 7)."""
        return (
            *super().features(images, batch, modality),
            self.encode_location(batch["lonlat"]),
        )
