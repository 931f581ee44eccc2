"""GRPO-ATS loop: sandbox images reach the training forward pass, sandbox/truncated tokens are masked, a step
trains, and the stage resumes from its checkpoint."""

import torch

from sandbox.layout import INPUT_DIR
from synthesis.agent import Conversation, Piece, Rollout
from synthesis.tasks import generate_task
from synthesis.teacher import image_name, teach
from train.checkpoint import latest_checkpoint, resume_from
from train.config import GrpoConfig
from train.data import prompt_from_row
from train.grpo import _micro_batches, compare_ats, grpo_step, train_grpo
from train.metrics import MetricsLog, read_metrics
from train.policy import load_policy

SMALL = dict(group_size=2, prompts_per_step=2, max_new_tokens=8, max_total_tokens=24, max_calls=3, steps=1)


def test_sandbox_images_are_in_the_forward_pass_in_placeholder_order(policy, sandbox):
    from tests.train.conftest import TASKS

    task = generate_task("multi_round", 3, TASKS)
    rollout = teach(task, sandbox)
    images = rollout.conversation.all_images
    assert len(images) == 3 and INPUT_DIR + image_name(task) in rollout.conversation.user
    ((batch, alive, _),) = _micro_batches(policy, [rollout], [True], 4)
    per = policy.vision.tokens_per_image
    assert batch["pixel_values"].shape[0] == 3 and alive == [True]
    ids, mask = batch["input_ids"][0], batch["loss_mask"][0]
    image_positions = (ids == policy.vision.token_ids["image"]).nonzero().view(-1)
    assert len(image_positions) == 3 * per and mask[image_positions].sum() == 0
    expected = policy.vision.encode(images)[1]["pixel_values"]
    assert torch.equal(batch["pixel_values"], expected)


def test_sandbox_text_and_truncated_rollouts_are_masked(policy):
    conv = Conversation("s", "u", ())
    conv.pieces += [
        Piece("model", "<think>a<code>x</code>", token_ids=(5, 6)),
        Piece("sandbox", "<sandbox_output>12</sandbox_output>"),
        Piece("model", "b", token_ids=(7,)),
    ]
    done, cut = Rollout(conv, finish="answer"), Rollout(conv, finish="max_calls")
    ((batch, alive, _),) = _micro_batches(policy, [done, cut], [True, False], 4)
    mask = batch["loss_mask"][0].tolist()
    trained = [i for i, m in zip(batch["input_ids"][0].tolist(), mask, strict=True) if m]
    assert trained == [5, 6, 7] and alive == [True, False]


def test_one_step_updates_the_policy_and_reports_the_breakdown(tiny_dir, tiny_cfg, policy, sandbox, rl_rows):
    reference = load_policy(tiny_dir, tiny_cfg, trainable=False)
    before = [p.detach().clone() for p in policy.model.parameters()]
    optimizer = torch.optim.AdamW(policy.model.parameters(), lr=1e-2, weight_decay=0.0)
    prompts = [prompt_from_row(r) for r in rl_rows[:2]]
    cfg = GrpoConfig(**SMALL, beta=0.1, mask_truncated=False)
    stats = grpo_step(policy, reference, optimizer, sandbox, prompts, cfg)
    assert {
        "reward",
        "loss",
        "kl",
        "clip_frac",
        "generate_s",
        "sandbox_s",
        "forward_s",
        "backward_s",
        "code_failure_rate",
        "reward_accuracy",
        "reward_format",
    } <= set(stats)
    changed = any(not torch.equal(a, b) for a, b in zip(before, policy.model.parameters(), strict=True))
    assert changed == (stats["frac_zero_std"] < 1.0)


def test_stage_resumes_from_its_latest_checkpoint(tiny_dir, tiny_cfg, sandbox, rl_dir, tmp_path):
    ref = load_policy(tiny_dir, tiny_cfg, trainable=False)
    cfg = GrpoConfig(**{**SMALL, "steps": 2, "save_every": 1})
    log = MetricsLog(tmp_path / "m.jsonl")
    first = GrpoConfig(**{**SMALL, "steps": 1, "save_every": 1})
    train_grpo(load_policy(tiny_dir, tiny_cfg), ref, sandbox, first, rl_dir, tmp_path / "grpo", 0, log)
    assert latest_checkpoint(tmp_path / "grpo").name == "step-000001"
    policy = load_policy(resume_from(tmp_path / "grpo", tiny_dir), tiny_cfg)
    train_grpo(policy, ref, sandbox, cfg, rl_dir, tmp_path / "grpo", 0, log)
    assert latest_checkpoint(tmp_path / "grpo").name == "step-000002"
    assert sorted(r["step"] for r in read_metrics(tmp_path / "m.jsonl")) == [1, 2]


def test_rollouts_depend_on_their_seed_not_on_what_ran_before(policy, sandbox, rl_rows):
    """A GRPO step's samples are fixed by its seed: a stage run after `compare` (which draws from torch's
    generator) or resumed alone samples the same rollouts."""
    from train.grpo import collect_groups

    prompts = [prompt_from_row(r) for r in rl_rows[:2]]
    cfg = GrpoConfig(**SMALL)

    def texts(seed: int) -> list[str]:
        torch.rand(int(torch.randint(1, 50, (1,))))  # whatever ran before moves the global generator
        return [r.response for r in collect_groups(policy, sandbox, prompts, cfg, seed=seed)]

    first = texts(7)
    assert texts(7) == first
    assert texts(8) != first  # the seed is what decides (text is sampled at T=1)


def test_ats_comparison_reports_both_schemes(policy, sandbox, rl_rows):
    out = compare_ats(policy, sandbox, [prompt_from_row(rl_rows[0])], GrpoConfig(**SMALL))
    assert set(out) == {"ats", "t1"} and {"code_failure_rate", "reward"} <= set(out["ats"])


def test_strict_rollouts_fail_the_code_that_fix_ups_repair(sandbox):
    """``grpo.strict`` reaches the sandbox: a miscopied path runs with Thyme's fix-ups and fails without."""
    from tests.train.conftest import TASKS, RenamedPath
    from train.data import prompt_from_task
    from train.grpo import collect_groups

    task = generate_task("crop", 905, TASKS)
    runs = {}
    for strict in (False, True):
        cfg = GrpoConfig(group_size=2, max_total_tokens=10**6, max_new_tokens=4096, strict=strict, ats="off")
        rollouts = collect_groups(
            None, sandbox, [prompt_from_task(task)], cfg, backend=RenamedPath(task, f"{task.id[:-1]}0.")
        )
        runs[strict] = [e.result for r in rollouts for e in r.executions]
    assert runs[False] and all(r.ok and "fix_image_path" in r.fixes for r in runs[False])
    # PIL raises on open; cv2.imread returns None, which fails later
    assert runs[True] and all(
        r.error_type in {"FileNotFoundError", "TypeError", "AttributeError"} for r in runs[True]
    )
