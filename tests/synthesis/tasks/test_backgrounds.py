import numpy as np
import pytest

from synthesis.tasks.drawing.backgrounds import BACKGROUND_KINDS, make_background
from synthesis.tasks.drawing.fonts import FontNotFoundError, font_names
from synthesis.tasks.drawing.rand import make_rng


@pytest.mark.parametrize("kind", BACKGROUND_KINDS)
def test_backgrounds_are_deterministic_and_not_flat(kind):
    a = np.asarray(make_background(make_rng(1), 300, 200, kind))
    b = np.asarray(make_background(make_rng(1), 300, 200, kind))
    assert a.shape == (200, 300, 3) and (a == b).all()
    assert a.std() > 3


def test_seeds_change_backgrounds():
    a = np.asarray(make_background(make_rng(1), 100, 100, "texture"))
    b = np.asarray(make_background(make_rng(2), 100, 100, "texture"))
    assert not (a == b).all()


def test_fonts_are_found_and_missing_styles_name_the_package():
    assert len(font_names()) >= 4
    with pytest.raises(FontNotFoundError, match="fonts-dejavu-core"):
        font_names("NoSuchStyle")
