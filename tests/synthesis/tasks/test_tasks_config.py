import pytest

from synthesis.tasks.config import (
    ComputeConfig,
    ContrastConfig,
    CropConfig,
    MultiRoundConfig,
    NoCodeConfig,
    RotateConfig,
    TasksConfig,
)

ALL = [CropConfig, RotateConfig, ContrastConfig, ComputeConfig, MultiRoundConfig, NoCodeConfig, TasksConfig]


@pytest.mark.parametrize("cls", ALL)
def test_every_field_has_a_default_and_help(cls):
    import dataclasses

    cls()
    for f in dataclasses.fields(cls):
        assert f.metadata.get("help"), f"{cls.__name__}.{f.name} has no help"


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: CropConfig(long_side_range=(1024, 2048)), r"raise long_side_range\[0\] to >= 2017"),
        (lambda: CropConfig(long_side_range=(4096, 9000)), "long_side_range"),
        (lambda: CropConfig(target_kinds=["logo"]), "target_kinds"),
        (lambda: CropConfig(max_target_fraction=0.2), "max_target_fraction"),
        (lambda: CropConfig(image_format="gif"), "image_format"),
        (lambda: RotateConfig(angle_ranges=[(0, 360)]), "angle_ranges"),
        (lambda: RotateConfig(angle_ranges=[]), "angle_ranges"),
        (lambda: ContrastConfig(contrast_factor_range=(0.5, 0.9)), "contrast_factor_range"),
        (lambda: ComputeConfig(kinds=["figure"], operations=["sum"]), "needs one of operations"),
        (lambda: MultiRoundConfig(crop=CropConfig(distractors_range=(0, 3))), "distractors_range"),
        (lambda: NoCodeConfig(shapes_range=(0, 2)), "shapes_range"),
        (lambda: TasksConfig(mix={"zoom": 1.0}), "unknown families"),
        (lambda: TasksConfig(mix={"crop": 0.0}), "at least one > 0"),
        (lambda: TasksConfig(count=-1), "count"),
    ],
)
def test_invalid_configs_say_what_to_set(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_yaml_lists_become_tuples():
    cfg = CropConfig(long_side_range=[2048, 3000], distractors_range=[1, 2])
    assert cfg.long_side_range == (2048, 3000) and cfg.distractors_range == (1, 2)
    assert RotateConfig(angle_ranges=[[30, 60]]).angle_ranges == [(30, 60)]


def test_family_config_lookup():
    cfg = TasksConfig()
    assert cfg.family_config("rotate") is cfg.rotate
    with pytest.raises(ValueError, match="unknown family"):
        cfg.family_config("zoom")
