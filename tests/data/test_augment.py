import pytest
import torch

from codesign.config import load_recipe
from codesign.data import augment_batch, augment_kind
from codesign.errors import CodesignError


def test_shift_moves_each_image_by_at_most_two_pixels_and_keeps_the_background():
    x = torch.full((64, 1, 28, 28), -0.42)
    x[:, :, 12:16, 12:16] = 2.0                                  # a bright square in the middle
    out = augment_batch(x, "shift", torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    assert torch.all((out == -0.42) | (out == 2.0))              # border repeated: no grey frame
    rows = [(img[0] == 2.0).any(1).nonzero().min().item() for img in out]
    cols = [(img[0] == 2.0).any(0).nonzero().min().item() for img in out]
    assert set(rows) <= set(range(10, 15)) and set(cols) <= set(range(10, 15))
    assert len(set(zip(rows, cols))) > 10                        # the offsets vary between images
    assert torch.equal(out, augment_batch(x, "shift", torch.Generator().manual_seed(0)))


def test_crop_flip_is_unchanged_by_the_shared_crop():
    """crop_flip draws its numbers in the same order as before shift existed (seeded runs stay identical)."""
    x = torch.arange(2 * 3 * 6 * 6, dtype=torch.float32).reshape(2, 3, 6, 6)
    gen = torch.Generator().manual_seed(3)
    out = augment_batch(x, "crop_flip", gen)
    ref = torch.Generator().manual_seed(3)
    dx, dy = torch.randint(0, 9, (2,), generator=ref), torch.randint(0, 9, (2,), generator=ref)
    flip = torch.rand(2, generator=ref) < 0.5
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4))
    for i in range(2):
        want = padded[i, :, dy[i]:dy[i] + 6, dx[i]:dx[i] + 6]
        assert torch.equal(out[i], want.flip(-1) if flip[i] else want)


def test_the_recipe_overrides_the_dataset_default():
    assert augment_kind(None, "crop_flip") == "crop_flip"
    assert augment_kind("none", "crop_flip") is None
    assert augment_kind("shift", None) == "shift"
    assert augment_kind(None, None) is None
    assert load_recipe(None, {"data.augment": "shift"}).data.augment == "shift"
    with pytest.raises(CodesignError, match="augment"):
        load_recipe(None, {"data.augment": "rotate"})


def test_images_only():
    with pytest.raises(ValueError, match="images"):
        augment_batch(torch.zeros(4, 10), "shift", torch.Generator())
