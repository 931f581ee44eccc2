"""ValidatorsConfig: defaults from the original recipe, strict YAML building, cross-field rules."""

import dataclasses

import pytest
import yaml

from runconfig.typed import ConfigError, build
from validators.config import ShardChecksConfig, ValidatorsConfig

YAML = """
fail_fast: false
hygiene: {max_chars: 8000, repetition_threshold: 0.5}
images: {min_side: 32}
answer: {use_judge: true}
judge: {base_url: "http://127.0.0.1:9000/v1", model: judge}
shards: {family_bounds: {crop: [0.2, 0.6]}}
"""


def test_defaults_follow_the_original():
    cfg = ValidatorsConfig()
    assert (cfg.hygiene.repetition_threshold, cfg.hygiene.repetition_window) == (0.3, 1000)
    assert cfg.images.min_side == 64 and cfg.consistency.tail_chars == 500
    assert (cfg.judge.temperature, cfg.judge.max_tokens, cfg.judge.attempts) == (0.1, 256, 3)
    assert not cfg.answer.use_judge and not cfg.consistency.use_judge


def test_every_field_is_documented():
    def walk(cls):
        for f in dataclasses.fields(cls):
            assert f.metadata.get("help"), f"{cls.__name__}.{f.name} has no help"
            if dataclasses.is_dataclass(f.type if isinstance(f.type, type) else None):
                walk(f.type)

    walk(ValidatorsConfig)
    for f in dataclasses.fields(ValidatorsConfig):
        walk(type(getattr(ValidatorsConfig(), f.name))) if f.name != "fail_fast" else None


def test_strict_yaml_build():
    cfg = build(ValidatorsConfig, yaml.safe_load(YAML), source="pipeline.yaml", prefix="validators.")
    assert not cfg.fail_fast and cfg.hygiene.max_chars == 8000 and cfg.images.min_side == 32
    assert cfg.shards.family_bounds == {"crop": (0.2, 0.6)} and cfg.judge.model == "judge"


@pytest.mark.parametrize(
    "data, message",
    [
        ({"hygiene": {"max_char": 1}}, "unknown key 'validators.hygiene.max_char'"),
        ({"hygiene": {"repetition_threshold": 1.5}}, "repetition_threshold"),
        ({"images": {"min_side": "big"}}, "validators.images.min_side"),
        ({"shards": {"family_bounds": {"crop": [0.7, 0.2]}}}, "family_bounds.crop"),
        ({"judge": {"attempts": 0}}, "attempts"),
    ],
)
def test_bad_values_are_one_line_errors(data, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        build(ValidatorsConfig, data, source="pipeline.yaml", prefix="validators.")


def test_shard_config_defaults():
    assert "crop" in ShardChecksConfig().families and ShardChecksConfig().min_rows == 1
