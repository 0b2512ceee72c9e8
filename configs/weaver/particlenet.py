"""A weaver-core network file, in weaver-core's own format: weaver-core's ParticleNet (its Lite size by default)
on the charged constituents of configs/weaver/qg_data.yaml. Needs weaver-core installed (`make install` does)."""
import torch
from weaver.nn.model.ParticleNet import ParticleNet


class ParticleNetWrapper(torch.nn.Module):
    def __init__(self, **kwargs):
        super().__init__()
        self.mod = ParticleNet(**kwargs)

    def forward(self, points, features, mask):
        return self.mod(points, features, mask)


def get_model(data_config, **kwargs):
    model = ParticleNetWrapper(
        input_dims=len(data_config.input_dicts['ch_features']),
        num_classes=len(data_config.label_value),
        conv_params=kwargs.get('conv_params', [(7, (32, 32, 32)), (7, (64, 64, 64))]),
        fc_params=kwargs.get('fc_params', [(128, 0.1)]),
        use_fusion=False,
        use_fts_bn=True,
        use_counts=True,
        for_inference=kwargs.get('for_inference', False),
    )
    model_info = {'input_names': list(data_config.input_names), 'output_names': ['softmax']}
    return model, model_info


def get_loss(data_config, **kwargs):
    return torch.nn.CrossEntropyLoss()
