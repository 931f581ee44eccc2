import json
import re

import pytest

from synthesis.tasks import FAMILIES, generate_task
from synthesis.tasks.task import Task, make_task_id


@pytest.mark.parametrize("family", FAMILIES)
def test_round_trip_and_json_safe_params(family):
    t = generate_task(family, 11)
    d = t.to_dict()
    assert Task.from_dict(d) == t
    json.dumps({k: v for k, v in d.items() if k != "image"})  # everything but the bytes is JSON
    assert re.fullmatch(rf"{family}-000011-[0-9a-f]{{8}}", t.id)


def test_id_depends_on_config_and_params():
    assert make_task_id("crop", 1, {"a": 1}, {}) != make_task_id("crop", 1, {"a": 2}, {})
    assert make_task_id("crop", 1, {}, {"x": 1}) == make_task_id("crop", 1, {}, {"x": 1})


def test_task_is_frozen():
    t = Task("x", "no_code", 0, b"", "png", 1, 1, "q", "a", "text")
    with pytest.raises(AttributeError):
        t.answer = "b"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"answer_type": "essay"}, "answer_type"),
        ({"image_format": "gif"}, "image_format"),
        ({"answer_type": "choice"}, "choices"),
    ],
)
def test_invalid_task_fields_are_rejected(kwargs, message):
    base = dict(
        id="x",
        family="no_code",
        seed=0,
        image=b"",
        image_format="png",
        width=1,
        height=1,
        question="q",
        answer="a",
        answer_type="text",
    )
    with pytest.raises(ValueError, match=message):
        Task(**(base | kwargs))
