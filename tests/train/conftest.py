"""Shared fixtures: a few real SFT records and RL prompts written as shards, a tiny policy, a sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.shards import write_shard
from sandbox import Sandbox, SandboxConfig
from synthesis.records import RL_SCHEMA, SFT_SCHEMA, Provenance, RlPrompt
from synthesis.rollout_record import record_from_rollout
from synthesis.tasks import FAMILIES, TasksConfig, generate_task
from synthesis.tasks.config import CropConfig, MultiRoundConfig
from synthesis.teacher import teach
from train.chat import prompt_text
from train.config import ModelConfig
from train.data import prompt_from_record
from train.policy import load_policy
from train.tiny_model import build_tiny

SMALL_CROP = CropConfig(long_side_range=(1024, 1280), model_side=224)
TASKS = TasksConfig(count=12, crop=SMALL_CROP, multi_round=MultiRoundConfig(crop=SMALL_CROP))
TINY = ModelConfig(
    vocab_size=1600,
    hidden_size=32,
    layers=1,
    heads=2,
    vision_hidden=32,
    vision_layers=1,
    image_size=32,
    patch_size=16,
)


class RenamedPath:
    """The programmatic teacher on ``task``, with its input path's ``<id>.`` rewritten to ``name``.

    A backend for the agent loop whose code opens a file other than the one the record id names: a miscopied
    id, or ``image.`` for a policy trained with ``train.input_name=fixed``.
    """

    def __init__(self, task, name: str):
        from sandbox.layout import INPUT_DIR
        from synthesis.teacher import ScriptedPolicy, image_name
        from synthesis.teacher.plans import plan_script

        self.script = ScriptedPolicy(plan_script(task, INPUT_DIR + image_name(task)))
        self.old, self.new = f"{task.id}.", name

    def generate(self, conversation, sampling, stop):
        from dataclasses import replace

        out = self.script.generate(conversation, sampling, stop)
        return replace(out, text=out.text.replace(self.old, self.new))


def _tasks(base_seed: int, per_family: int = 2):
    return [
        generate_task(f, base_seed + 10 * i + k, TASKS)
        for i, f in enumerate(FAMILIES)
        for k in range(per_family)
    ]


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    import torch

    torch.set_num_threads(1)  # tiny ops: threads only add synchronisation, worse under CPU contention


@pytest.fixture(scope="session")
def sandbox():
    with Sandbox(SandboxConfig(workers=2, timeout_s=5.0)) as sb:
        yield sb


@pytest.fixture(scope="session")
def sft_records(sandbox):
    prov = Provenance(source="generated", generator="programmatic", generator_version="test", seed=0)
    return [record_from_rollout(t, teach(t, sandbox), prov) for t in _tasks(0)]


@pytest.fixture(scope="session")
def sft_dir(tmp_path_factory, sft_records) -> Path:
    folder = tmp_path_factory.mktemp("sft") / "data"
    write_shard([r.to_row() for r in sft_records[:6]], SFT_SCHEMA, folder / "train-00000-of-00002.parquet")
    write_shard([r.to_row() for r in sft_records[6:]], SFT_SCHEMA, folder / "train-00001-of-00002.parquet")
    return folder


@pytest.fixture(scope="session")
def rl_rows() -> list[dict]:
    return [
        RlPrompt(
            id=t.id,
            image=t.image,
            question=t.question,
            image_size=(t.width, t.height),
            answer=t.answer,
            answer_type=t.answer_type,
            family=t.family,
            difficulty=float(t.difficulty),
            choices=tuple(t.choices),
        ).to_row()
        for t in _tasks(500, 1)
    ]


@pytest.fixture(scope="session")
def rl_dir(tmp_path_factory, rl_rows) -> Path:
    folder = tmp_path_factory.mktemp("rl") / "data"
    write_shard(rl_rows, RL_SCHEMA, folder / "train-00000-of-00001.parquet")
    return folder


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory, sft_records) -> Path:
    texts = []
    for r in sft_records:
        conv = prompt_from_record(r).conversation()
        texts += [prompt_text(conv.system, conv.user), r.response]
    return build_tiny(TINY, texts, tmp_path_factory.mktemp("tiny") / "model", seed=0)


@pytest.fixture(scope="session")
def tiny_cfg() -> ModelConfig:
    return TINY


@pytest.fixture()
def policy(tiny_dir):
    import torch

    torch.manual_seed(0)
    return load_policy(tiny_dir, TINY)
