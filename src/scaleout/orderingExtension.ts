/**
 * The Python module a bundle carries when its run used a non-raster ordering: the smallest
 * addition that lets ml-l3m's AIM v1 config express one (see l3mConfig.ts for why its loss
 * permutation alone cannot). The config puts `PermuteTokens` after the ViTPreprocessor
 * (tokens, with their sin-cos positions already added, into prediction order, so the trunk's
 * prefix-causal mask runs along that order) and `PermuteTokens(inverse=True)` as the
 * postprocessor (back to raster order for the head, whose positions are raster); then
 * `fixed_order` gives RasterPixelLoss the same permutation for outputs and targets.
 */
export const ORDERING_MODULE = 'playground_orderings';

export const ORDERING_PYTHON = `"""Token orderings for ml-l3m's AIM v1 config, written by the AIM Playground's scale-out bundle.

order[t] is the raster index of the patch predicted at position t of the sequence.
"""
from typing import Any

import torch

from l3m.model.meta_models import ReadWriteBlock


def _check(order: list[int]) -> list[int]:
    order = [int(i) for i in order]
    if sorted(order) != list(range(len(order))):
        raise ValueError("order is not a permutation of 0 .. N-1")
    return order


def fixed_order(order: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """(permutation, inverse) in the form RasterPixelLoss's autoregressive_pattern_getter returns."""
    permutation = torch.tensor(_check(order), dtype=torch.long)
    return permutation, torch.argsort(permutation)


class PermuteTokens(ReadWriteBlock):
    """Reorders the tokens [B, N, D] into the prediction order (inverse=True: back to raster)."""

    def __init__(self, order: list[int], inverse: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        order = _check(order)
        if inverse:
            back = [0] * len(order)
            for position, patch in enumerate(order):
                back[patch] = position
            order = back
        # A plain list, not a buffer: ml-l3m may build the model on the meta device.
        self.index = order

    def forward(self, data_dict: dict[str, Any], **_: Any) -> dict[str, Any]:
        tokens = data_dict[self.read_key]
        index = torch.tensor(self.index, dtype=torch.long, device=tokens.device)
        data_dict[self.write_key] = tokens[:, index]
        return data_dict
`;
