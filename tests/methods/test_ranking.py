import torch

from codesign.methods.ranking import global_top_masks, top_mask


def test_top_mask_breaks_ties_by_position():
    assert top_mask(torch.tensor([1.0, 3.0, 3.0, 2.0]), 2).tolist() == [False, True, True, False]
    assert top_mask(torch.tensor([2.0, 2.0, 2.0]), 1).tolist() == [True, False, False]
    assert not top_mask(torch.ones(2, 2), 0).any()


def test_global_masks_compete_across_layers_and_never_cut_one_off():
    scores = {"a": torch.tensor([[9.0, 8.0], [7.0, 6.0]]), "b": torch.tensor([1.0, 2.0, 0.5])}
    masks = global_top_masks(scores, 3)
    assert masks["a"].tolist() == [[True, True], [True, False]]
    assert masks["b"].tolist() == [False, True, False]          # its best entry, though not in the top 3
    assert {k: v.shape for k, v in masks.items()} == {k: v.shape for k, v in scores.items()}
