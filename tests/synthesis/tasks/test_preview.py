from PIL import Image

from synthesis.tasks.drawing.preview import main


def test_preview_writes_a_grid(tmp_path):
    out = tmp_path / "grid.png"
    assert main([str(out), "--tile", "96"]) == 0
    with Image.open(out) as im:
        assert im.size == (96 * 6, 96 + 80)
