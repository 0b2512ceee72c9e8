"""A weaver-core network file (weaver's format) in plain PyTorch: every input group averaged over its slots (the
masked mean of the constituents' slots where the group has a mask), concatenated and put through an MLP."""
import torch


class MeanNet(torch.nn.Module):
    def __init__(self, input_names, input_shapes, num_outputs, hidden):
        super().__init__()
        self.input_names = list(input_names)
        width = sum(input_shapes[n][1] for n in self.input_names)
        self.mlp = torch.nn.Sequential(torch.nn.Linear(width, hidden), torch.nn.ReLU(),
                                       torch.nn.Linear(hidden, num_outputs))

    def forward(self, *inputs):
        named = dict(zip(self.input_names, inputs))
        pooled = []
        for name, x in named.items():
            if x.dim() == 1:
                x = x[:, None]
            if x.dim() == 3:
                mask = named.get(name.split('_')[0] + '_mask')
                if mask is None:
                    x = x.mean(-1)
                else:
                    x = (x * mask).sum(-1) / mask.sum(-1).clamp(min=1)
            pooled.append(x)
        return self.mlp(torch.cat(pooled, dim=1))


def get_model(data_config, **kwargs):
    num_outputs = len(data_config.label_value) if data_config.label_type == 'simple' else 1
    model = MeanNet(data_config.input_names, data_config.input_shapes, num_outputs, kwargs.get('hidden', 16))
    return model, {'input_names': list(data_config.input_names)}


def get_loss(data_config, **kwargs):
    if data_config.label_type == 'simple':
        return torch.nn.CrossEntropyLoss()
    return torch.nn.MSELoss()
