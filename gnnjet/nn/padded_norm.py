"""BatchNorm statistics of a padded layout, computed from packed nodes: what weaver-core's models learn.

weaver-core runs on padded tensors [B, C, P] (ParticleNet's edges [B, C, P, K]): its BatchNorm layers take their
training-mode batch statistics over the real positions *and* the padded ones. A padded position holds a constant
vector at a layer's input (zeros at the model's input and after each masked block, then whatever the layers before
make of zeros), so its contribution is known from that vector and the number of padded positions. The running
statistics of every weaver-core checkpoint were accumulated that way; a packed model that renormalises over real
nodes only sees very different means and variances in its first training steps and destroys the pretrained
features before a new head has learned anything (issue 29). Here the padded rows enter the mean and variance as
``count`` copies of ``pad`` without being materialised, and gradients flow through both as in weaver-core.

``batchnorm_padding`` (a model option of the weaver layouts) names the padded length: an integer P (every jet
padded to P nodes, weaver-core with a data length of P and no trimming, as ParticleNet's JetClass checkpoints were
trained), ``"batch"`` (padded to the batch's largest jet, as weaver-core's SequenceTrimmer does), or null (real
nodes only: gnnjet's own presets). Eval mode uses the running statistics either way.

Written here because torch's BatchNorm has no weighted or masked statistics. Under DDP the padded statistics are
each process's own (SyncBatchNorm's collective is not used on this path).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch_geometric.data import Batch

from gnnjet.errors import ConfigError
from gnnjet.nn.blocks import max_nodes

BATCH = "batch"  # pad to the batch's largest jet


PADDED_LENGTH = (f"a padded length: a positive number of nodes (weaver-core's data length, e.g. 128), {BATCH!r} "
                 "(the batch's largest jet) or null (real nodes only)")


def is_padded_length(value: Any) -> bool:
    """Whether `value` is a ``batchnorm_padding`` (`PADDED_LENGTH`)."""
    return value is None or value == BATCH or (isinstance(value, int) and not isinstance(value, bool) and value > 0)


def check_padding(params: dict[str, Any], path: str) -> None:
    """Config-time check of a resolved model section: ``batchnorm_padding`` only with layout weaver (weaver-core's
    padded model)."""
    if params["batchnorm_padding"] is not None and params["layout"] != "weaver":
        raise ConfigError(f"{path}.batchnorm_padding: only layout 'weaver' (weaver-core's padded model) has padded "
                          "BatchNorm statistics; leave it null")


def padded_nodes(batch: Batch, padding: int | str) -> Tensor:
    """Number of padded positions of `batch` laid out at `padding` (`batchnorm_padding`) nodes per jet: a 0-d
    tensor, sum over jets of max(P - n_jet, 0)."""
    sizes = batch.ptr[1:] - batch.ptr[:-1]
    length = padding if isinstance(padding, int) else (max_nodes(batch) or int(sizes.max()))
    return (length - sizes).clamp(min=0).sum()


def padded_batch_norm(norm: _BatchNorm, x: Tensor, count: Tensor, pad: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Training-mode BatchNorm of rows x [M, C] whose statistics also hold `count` rows equal to pad [C] (zeros if
    None: padded inputs).

    Updates `norm`'s running statistics as torch does (momentum, unbiased variance, num_batches_tracked) and
    returns (normalised x [M, C], normalised pad [C]): the second is the padded rows' value at the next layer.
    In eval mode, `norm` as it is.
    """
    if pad is None:
        pad = x.new_zeros(x.size(-1))
    if not norm.training:
        return norm(x), norm(pad.unsqueeze(0)).squeeze(0)
    dtype = torch.promote_types(x.dtype, torch.float32)  # statistics in float32 at least (AMP)
    values, padding = x.to(dtype), pad.to(dtype)
    total = count + values.size(0)
    mean = (values.sum(0) + count * padding) / total
    var = (((values - mean) ** 2).sum(0) + count * (padding - mean) ** 2) / total
    if norm.track_running_stats:
        assert norm.num_batches_tracked is not None and norm.running_mean is not None and norm.running_var is not None
        norm.num_batches_tracked.add_(1)
        factor = norm.momentum if norm.momentum is not None else 1.0 / float(norm.num_batches_tracked)
        with torch.no_grad():
            norm.running_mean.lerp_(mean.to(norm.running_mean.dtype), factor)
            unbiased = var * total / (total - 1).clamp(min=1)
            norm.running_var.lerp_(unbiased.to(norm.running_var.dtype), factor)
    scale = torch.rsqrt(var + norm.eps)
    if norm.affine:
        scale = scale * norm.weight
    shift = -mean * scale + (norm.bias if norm.affine else 0)
    return (values * scale + shift).to(x.dtype), (padding * scale + shift).to(pad.dtype)


class PaddedStatistics(nn.Sequential):
    """An nn.Sequential (same state-dict keys) whose BatchNorm layers, in training with `padded` set, take their
    statistics over its input rows and `padded` more rows that are zeros at its input (`padded_batch_norm`). The
    owner sets `padded` (a 0-d tensor, or None for real rows only) before each call."""

    padded: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:  # type: ignore[override]
        if self.padded is None or not self.training:
            return super().forward(x)
        pad = x.new_zeros(x.size(-1))
        for layer in self:
            if isinstance(layer, _BatchNorm):
                x, pad = padded_batch_norm(layer, x, self.padded, pad)
            else:
                x, pad = layer(x), layer(pad)
        return x
