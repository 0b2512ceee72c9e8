"""weaver-core network files on gnnjet's batches: ``get_model(data_config, **options) -> (model, model_info)`` and
``get_loss(data_config, **options)`` called with a data config that offers what such files read, and the model fed
weaver's dense inputs built from the packed batch.

Each input group (`weaver_config.Group`) becomes float32 [B, vars, length] as weaver-core's loader makes it: the
node type's constituents in file order, truncated to `length`, then padded with each variable's pad value
(``constant``) or by repeating the jet's constituents (``wrap``; a jet without any is zeros); a per-jet group
(``length: null``) is [B, vars] ([B] for one variable). The preprocessing (centre, scale, clip, NaN -> 0) is
gnnjet's, with weaver's parameters (`weaver_config`). The inputs go to the model in ``model_info['input_names']``
order; its output [B, K] (or [B]) is the task's output.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import Tensor, nn

from gnnjet.errors import GnnjetError
from gnnjet.nn.user import load_reference
from gnnjet.references import is_user_code
from gnnjet.weaver_config import Group, WeaverData, parse_data_config


class DataConfigView:
    """The attributes of weaver-core's DataConfig that network files read (input_names, input_dicts,
    input_shapes, label_type, label_value, label_names, observer_names, preprocess_params, and any option of the
    data config by its key)."""

    def __init__(self, weaver: WeaverData):
        self._options = weaver.options
        self.input_names = weaver.input_names
        self.input_dicts = {g.name: [v.name for v in g.variables] for g in weaver.groups}
        self.input_shapes = {g.name: (-1, len(g.variables), g.length) for g in weaver.groups}
        self.label_type = weaver.labels["type"]
        self.label_value = weaver.labels["value"]
        self.label_names = ("_label_",) if self.label_type == "simple" else tuple(self.label_value)
        self.observer_names = tuple(weaver.options["observers"] or ())
        self.preprocess_params = {
            v.name: {"length": g.length, "pad_mode": g.pad_mode, "center": v.center, "scale": v.scale,
                     "min": v.low, "max": v.high, "pad_value": v.pad_value}
            for g in weaver.groups for v in g.variables}

    def __getattr__(self, name: str) -> Any:  # weaver's DataConfig falls back to its options the same way
        try:
            return self.__dict__["_options"][name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass(frozen=True)
class _Gather:
    """Where one group's values are in a batch: `columns` of x (node groups, of node type `code`) or of u."""

    group: Group
    code: int | None  # node type code; None: a per-jet group (columns of u)
    columns: tuple[int, ...]


class WeaverNetwork(nn.Module):
    """A weaver-core network behind gnnjet's model interface: forward(batch) -> [B, out_dim]."""

    # gnnjet's packed ONNX inputs are not what such a network takes; bin/export.py --format cmssw exports it on its
    # own dense inputs, as weaver-core does (`export/weaver_network.py`)
    onnx_blocker = "a weaver-core network file takes its data config's dense input groups: use --format cmssw"

    def __init__(self, network: nn.Module, input_names: list[str], gathers: list[_Gather], num_node_types: int,
                 out_dim: int, rebuild: Callable[..., nn.Module] | None = None):
        super().__init__()
        self.network = network
        self._rebuild = rebuild
        self.input_names = list(input_names)
        self.gathers = gathers
        self.num_node_types = num_node_types
        self.out_dim = out_dim
        for gather in gathers:
            pads = [v.pad_value for v in gather.group.variables]
            self.register_buffer(f"_pad_{gather.group.name}", torch.tensor(pads, dtype=torch.float32),
                                 persistent=False)

    def dense_inputs(self, batch: Any) -> dict[str, Tensor]:
        """{group name: float32 [B, vars, length]} (per-jet groups [B, vars], or [B] for one variable)."""
        num_jets = batch.num_graphs
        counts = torch.zeros(self.num_node_types, num_jets, dtype=torch.long, device=batch.x.device)
        counts.index_put_((batch.node_type.long(), batch.batch), torch.ones_like(batch.batch), accumulate=True)
        starts = batch.ptr[:-1] + counts.cumsum(0) - counts  # [T, B]: each type's first node in each jet
        inputs = {}
        for gather in self.gathers:
            group = gather.group
            if gather.code is None:
                values = batch.u[:, list(gather.columns)]
                inputs[group.name] = values[:, 0] if values.shape[1] == 1 else values
                continue
            n = counts[gather.code][:, None]  # [B, 1]
            slot = torch.arange(group.length, device=n.device)[None, :]  # [1, L]
            if group.pad_mode == "wrap":
                source, real = slot % n.clamp(min=1), (n > 0).expand(-1, group.length)
                fill = torch.zeros_like(getattr(self, f"_pad_{group.name}"))
            else:
                source, real = slot.expand(num_jets, -1), slot < n
                fill = getattr(self, f"_pad_{group.name}")
            rows = (starts[gather.code][:, None] + source).clamp(max=len(batch.x) - 1)  # [B, L]
            values = batch.x[rows][..., list(gather.columns)]  # [B, L, V]
            inputs[group.name] = torch.where(real[..., None], values, fill).transpose(1, 2).contiguous()
        return inputs

    def for_inference(self) -> nn.Module:
        """The network built again with get_model's for_inference=True (what weaver-core exports: e.g. no
        sequence trimming, probabilities out), holding this one's weights, in eval mode; this network itself if the
        file's get_model takes no such option."""
        if self._rebuild is None:
            return self.network.eval()
        try:
            network = self._rebuild(for_inference=True)
            network.load_state_dict(self.network.state_dict())
        except (TypeError, RuntimeError, GnnjetError):
            return self.network.eval()
        return network.eval()

    def forward(self, batch: Any) -> Tensor:
        inputs = self.dense_inputs(batch)
        output = self.network(*(inputs[name] for name in self.input_names))
        if not isinstance(output, Tensor):
            raise GnnjetError(f"the weaver network returned a {type(output).__name__}, not a tensor")
        output = output.reshape(len(output), -1)
        if output.shape[1] != self.out_dim:
            raise GnnjetError(f"the weaver network returns {output.shape[1]} values per jet; the task needs "
                              f"{self.out_dim} (classes or targets)")
        return output


@dataclass
class WeaverRun:
    """A config's weaver data config and network file: `model(...)` builds the network, `loss()` its get_loss."""

    weaver: WeaverData
    model_section: dict[str, Any]
    loss_reference: str | None  # task.loss naming the file's get_loss, or None
    code: dict[str, Path]

    @classmethod
    def of(cls, config: dict[str, Any], code: dict[str, Path] | None = None) -> "WeaverRun":
        loss = config["task"]["loss"]
        return cls(parse_data_config(config["weaver"]["data_config"], "weaver.data_config"), config["model"],
                   loss if is_user_code(loss) else None, code or {})

    @property
    def data_config(self) -> DataConfigView:
        return DataConfigView(self.weaver)

    def model(self, node_columns: list[str], jet_columns: list[str], num_node_types: int,
              out_dim: int) -> WeaverNetwork:
        """The network of get_model, fed from a batch whose x columns are `node_columns` and u columns
        `jet_columns` (the data spec's feature names; node types coded in the order of the groups' prefixes)."""
        network, info = self._get_model()
        input_names = list(info.get("input_names", self.weaver.input_names))
        unknown = [n for n in input_names if n not in self.weaver.input_names]
        if unknown:
            raise GnnjetError(f"model {self.model_section['name']}: model_info's input_names {unknown} are not input "
                              f"groups of the data config ({', '.join(self.weaver.input_names)})")
        type_codes = {name: code for code, name in enumerate(self.weaver.node_types())}
        gathers = []
        for group in self.weaver.groups:
            names = node_columns if group.node_type is not None else jet_columns
            columns = tuple(names.index(v.name) for v in group.variables)
            code = None if group.node_type is None else type_codes[group.node_type]
            gathers.append(_Gather(group, code, columns))
        return WeaverNetwork(network, input_names, gathers, num_node_types, out_dim,
                             rebuild=lambda **extra: self._get_model(**extra)[0])

    def _get_model(self, **extra: Any) -> tuple[nn.Module, dict[str, Any]]:
        """get_model(data_config, **model.options, **extra), checked to return (model, model_info)."""
        get_model = load_reference(self.model_section["name"], self.code.get("model.name"))
        try:
            built = get_model(self.data_config, **{**self.model_section["options"], **extra})
        except Exception as err:  # noqa: BLE001 - users' code can raise anything
            raise GnnjetError(f"model {self.model_section['name']}(data_config, **model.options) failed: "
                              f"{type(err).__name__}: {err}") from None
        if not (isinstance(built, tuple) and len(built) == 2 and isinstance(built[0], nn.Module)):
            raise GnnjetError(f"model {self.model_section['name']}: get_model must return (model, model_info)")
        return built[0], built[1] or {}

    def loss(self) -> Callable[[Tensor, Tensor], Tensor] | None:
        """Per-jet losses of the file's get_loss (its reduction set to 'none'), or None without one."""
        if self.loss_reference is None:
            return None
        get_loss = load_reference(self.loss_reference, self.code.get("task.loss"))
        try:
            function = get_loss(self.data_config, **self.model_section["options"])
        except Exception as err:  # noqa: BLE001 - users' code can raise anything
            raise GnnjetError(f"task.loss {self.loss_reference}(data_config, **model.options) failed: "
                              f"{type(err).__name__}: {err}") from None
        if hasattr(function, "reduction"):
            function.reduction = "none"  # per-jet losses: gnnjet weights and averages them itself

        def per_jet(output: Tensor, target: Tensor) -> Tensor:
            if target.dim() == 1 and target.is_floating_point() and output.dim() == 2 and output.shape[1] == 1:
                output = output[:, 0]  # one regression target: weaver's losses take [B] against [B]
            losses = function(output, target)
            return losses.reshape(len(output), -1).mean(1) if isinstance(losses, Tensor) and losses.dim() > 1 \
                else losses

        per_jet.__name__ = self.loss_reference
        return per_jet
