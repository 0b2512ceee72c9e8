"""GAT: attention heads over the knn graph."""

from tests.nn.test_models import small_model


def test_heads_are_concatenated_to_the_hidden_width():
    model = small_model("gat", heads=4, hidden=[32, 16])
    assert [conv.heads for conv in model.stack.convs] == [4, 4]
    assert [conv.out_channels * conv.heads for conv in model.stack.convs] == [32, 16]
