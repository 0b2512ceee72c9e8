"""Name maps from a gnnjet model's state dict to another framework's (weaver-core's): the entries each family's
``weaver_names`` builds from its named submodules, and the one helper that lists a module's tensors."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn


@dataclass(frozen=True)
class WeaverName:
    """Where a gnnjet tensor lives in a weaver-core state dict.

    `key`: the weaver key; several gnnjet tensors with one key are concatenated along dim 0 in the order of the
    map (q and k/v -> ``in_proj``). `trailing`: 1-sized dims weaver's tensor has after gnnjet's (a Conv1d /
    Conv2d weight for a Linear one). `permute`: (dim, order) when the weaver tensor orders that dim otherwise:
    gnnjet index g is weaver index order[g].
    """

    key: str
    trailing: int = 0
    permute: tuple[int, tuple[int, ...]] | None = None


def module_names(prefix: str, module: nn.Module, weaver_prefix: str, trailing: int = 0,
                 permute: dict[str, tuple[int, tuple[int, ...]]] | None = None) -> dict[str, WeaverName]:
    """Every tensor of `module` (state-dict names under `prefix`) under `weaver_prefix`; `trailing` 1-dims for
    its weight, `permute` by tensor name (weight, bias, running_mean, ...)."""
    return {f"{prefix}.{name}": WeaverName(f"{weaver_prefix}.{name}", trailing if name == "weight" else 0,
                                           (permute or {}).get(name))
            for name in module.state_dict()}
