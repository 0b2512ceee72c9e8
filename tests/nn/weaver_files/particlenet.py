"""A weaver-core network file (weaver's format, as in the ParT repository's networks/): weaver-core's own ParticleNet
on the points, features and mask groups, for gnnjet's equivalence tests."""
import torch
from weaver.nn.model.ParticleNet import ParticleNet


class ParticleNetWrapper(torch.nn.Module):
    def __init__(self, **kwargs):
        super().__init__()
        self.mod = ParticleNet(**kwargs)

    def forward(self, points, features, lorentz_vectors, mask, sv_features, sv_mask, jet_features):
        return self.mod(points, features, mask)


def get_model(data_config, **kwargs):
    model = ParticleNetWrapper(
        input_dims=len(data_config.input_dicts['pf_features']),
        num_classes=len(data_config.label_value),
        conv_params=kwargs.get('conv_params', [(4, (16, 16)), (4, (16, 16))]),
        fc_params=kwargs.get('fc_params', [(16, 0.1)]),
        use_fusion=False,
        use_fts_bn=True,
        use_counts=True,
        for_inference=kwargs.get('for_inference', False),
    )
    model_info = {
        'input_names': list(data_config.input_names),
        'input_shapes': {k: ((1,) + s[1:]) for k, s in data_config.input_shapes.items()},
        'output_names': ['softmax'],
    }
    return model, model_info


def get_loss(data_config, **kwargs):
    return torch.nn.CrossEntropyLoss()
