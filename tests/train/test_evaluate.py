"""Benchmark builder (held-out seeds and sizes) and the evaluator, driven by the programmatic teacher."""

from collections.abc import Sequence

from sandbox.layout import INPUT_DIR
from synthesis.agent import Conversation, Generation, Sampling
from synthesis.tasks import FAMILIES, generate_task
from synthesis.teacher import ScriptedPolicy, image_name
from synthesis.teacher.plans import plan_script
from train.config import EvalConfig
from train.data import prompt_from_task
from train.evaluate import build_benchmark, evaluate


class TeacherBackend:
    """Answers every prompt with the programmatic teacher's script for its task (a perfect policy)."""

    def __init__(self, tasks):
        self.scripts = {t.id: ScriptedPolicy(plan_script(t, INPUT_DIR + image_name(t))) for t in tasks}

    def generate(self, conversation: Conversation, sampling: Sampling, stop: Sequence[str]) -> Generation:
        task_id = next(i for i in self.scripts if i in conversation.user)
        return self.scripts[task_id].generate(conversation, sampling, stop)


def test_benchmark_is_held_out():
    from tests.train.conftest import TASKS

    prompts = build_benchmark(EvalConfig(count=8, base_seed=10**6, long_side_range=(1100, 1200)), TASKS)
    assert {p.family for p in prompts} == set(FAMILIES)
    assert all(int(p.id.split("-")[-2]) >= 10**6 for p in prompts)
    crops = [p for p in prompts if p.family == "crop"]
    assert all(1100 <= max(p.image_size) <= 1200 for p in crops)


def test_teacher_scores_perfectly_with_tools(sandbox):
    from tests.train.conftest import TASKS

    tasks = [generate_task(f, 900 + i, TASKS) for i, f in enumerate(FAMILIES)]
    prompts = [prompt_from_task(t) for t in tasks]
    report, rollouts = evaluate(TeacherBackend(tasks), prompts, sandbox, EvalConfig(max_total_tokens=10**6))
    assert report["accuracy"] == 1.0 and report["format_valid_rate"] == 1.0
    assert report["code_exec_rate"] == 1.0 and report["mean_reward"] == 2.0
    assert report["accuracy_per_family"] == dict.fromkeys(sorted(FAMILIES), 1.0)
    assert report["code_use_rate"] == 5 / 6  # every family but no_code writes code
    assert report["mean_turns"] == sum(r.calls for r in rollouts) / 6
    assert report["code_errors"] == {}


def test_errors_are_counted_by_type(sandbox):
    """A policy that miscopies the input path fails in strict mode, and the report counts why."""
    from tests.train.conftest import TASKS, RenamedPath

    task = generate_task("crop", 901, TASKS)
    policy = RenamedPath(task, f"{task.id[:-1]}0.")
    report, rollouts = evaluate(policy, [prompt_from_task(task)], sandbox, EvalConfig(max_total_tokens=10**6))
    failed = [e for r in rollouts for e in r.executions if not e.result.ok]
    kinds = {e.result.error_type for e in failed}  # PIL raises on open; cv2.imread returns None, used later
    assert len(kinds) == 1 and kinds <= {"FileNotFoundError", "TypeError", "AttributeError"}
    assert report["code_errors"] == {kinds.pop(): len(failed)}
    assert report["code_exec_rate"] == 0.0


def test_served_name_reaches_the_prompt_and_the_sandbox(sandbox):
    """A policy that always opens image.<ext> runs only when the prompt serves its input under that name."""
    from tests.train.conftest import TASKS, RenamedPath

    for task in (generate_task("crop", 903, TASKS), generate_task("rotate", 904, TASKS)):
        policy, prompt = RenamedPath(task, "image."), prompt_from_task(task)
        as_id, _ = evaluate(policy, [prompt], sandbox, EvalConfig(max_total_tokens=10**6))
        served, _ = evaluate(policy, [prompt.served("image")], sandbox, EvalConfig(max_total_tokens=10**6))
        assert as_id["code_exec_rate"] == 0.0
        assert served["code_exec_rate"] == 1.0 and served["accuracy"] == 1.0


def test_without_tools_is_one_call(sandbox):
    from tests.train.conftest import TASKS

    t = generate_task("no_code", 77, TASKS)
    prompt = prompt_from_task(t)

    class Direct:
        def generate(self, conversation, sampling, stop):
            assert "<image>" not in conversation.user and sampling.temperature == 0.0
            assert "<code>" in stop  # a block opened without tools could never run
            assert sampling.max_new_tokens == budget
            return Generation(f"<answer>{t.answer}</answer>")

    budget = EvalConfig().max_new_tokens
    report, _ = evaluate(Direct(), [prompt], sandbox, EvalConfig(), tools=False)
    assert report["accuracy"] == 1.0 and report["mean_turns"] == 1 and report["tools"] is False
    budget = 24  # the no-tool setting's own budget, where set
    report, _ = evaluate(Direct(), [prompt], sandbox, EvalConfig(no_tool_max_new_tokens=24), tools=False)
    assert report["accuracy"] == 1.0
