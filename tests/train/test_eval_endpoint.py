"""``train.eval.use_endpoint``: a served model is scored through the teacher's backend and endpoint type."""

import json

import pytest

from runconfig.root import load_config
from runconfig.typed import ConfigError
from tests.synthesis.scripted_server import ScriptedTeacher
from tests.train.conftest import TASKS
from train.config import EvalConfig, TrainConfig
from train.metrics import MetricsLog
from train.run import run_eval


def test_the_eval_endpoint_is_the_one_endpoint_type():
    cfg = load_config(
        None,
        [
            "train.eval.use_endpoint=true",
            "train.eval.endpoint.base_url=http://127.0.0.1:9/v1",
            "train.eval.endpoint.model=served",
        ],
    )
    assert cfg.train.eval.use_endpoint and cfg.train.eval.endpoint.model == "served"
    with pytest.raises(ConfigError, match="endpoint_model"):  # the old flat key is gone, not silently ignored
        load_config(None, ["train.eval.endpoint_model=served"])
    with pytest.raises(ConfigError, match="base_url"):
        load_config(None, ["train.eval.endpoint.base_url=localhost:8000"])


def test_a_served_model_is_evaluated_with_and_without_tools(sandbox, tmp_path):
    with ScriptedTeacher() as server:
        cfg = load_config(
            None,
            [
                "train.eval.use_endpoint=true",
                f"train.eval.endpoint.base_url={server.base_url}",
                "train.eval.endpoint.model=scripted-teacher",
                "train.eval.count=6",
                "train.eval.max_total_tokens=100000",
            ],
        ).train
        assert isinstance(cfg, TrainConfig) and isinstance(cfg.eval, EvalConfig)
        reports = run_eval(cfg, tmp_path, {}, sandbox, TASKS, MetricsLog(tmp_path / "metrics.jsonl"))
    assert set(reports) == {"endpoint_tools", "endpoint_no_tools"}
    tools = json.loads((tmp_path / "eval_endpoint_tools.json").read_text())
    assert tools["format_valid_rate"] == 1.0 and tools["code_exec_rate"] == 1.0  # the server's code ran here
    # with tools: code then answer (two requests); without: one request
    assert len(server.bodies) == 6 * 2 + 6
