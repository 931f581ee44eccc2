"""The agent loop against the real sandbox: stops, sandbox outputs, ATS segment sampling, bounds."""

import io
from collections.abc import Sequence

import pytest
from PIL import Image

from sandbox import ExecResult, Sandbox, SandboxConfig
from sandbox.result import ExecStatus
from synthesis import format as fmt
from synthesis.agent import AgentConfig, Conversation, Generation, Piece, Sampling, run_agent
from synthesis.endpoint.batch import RolloutJob, run_many
from synthesis.endpoint.errors import FatalTeacherError, find_fatal


def _png(size=(200, 120)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (30, 60, 90)).save(buf, format="PNG")
    return buf.getvalue()


class ScriptedBackend:
    """A stand-in policy: replies from a script, recording every call's sampling and stop strings."""

    def __init__(self, replies: list[str], finish: Sequence[str] = ()):
        self.replies, self.finish, self.calls = list(replies), list(finish), []

    def generate(self, conversation, sampling, stop):
        self.calls.append((conversation.assistant, sampling, list(stop)))
        text = self.replies.pop(0)
        reason = self.finish.pop(0) if self.finish else "stop"
        return Generation(text, reason, prompt_tokens=10, completion_tokens=len(text) // 4)


CROP = (
    "<code>\n```python\nfrom PIL import Image\nimg = Image.open(image_path)\n"
    'p = "/mnt/data/temp_processed_images/c.png"\n'
    "img.crop((0, 0, 100, 100)).save(p)\nprint(p)\n```\n</code>"
)
CALC = "<code>\n```python\nprint(6 * 7)\n```\n</code>"


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(SandboxConfig(workers=1)) as sb:
        yield sb


def _conv():
    user = fmt.render_user_prompt("What is 6*7?", "/mnt/data/input/q.png", (200, 120))
    return Conversation(fmt.SYSTEM_PROMPT, user, (_png(),))


def _run(sandbox, backend, cfg=None):
    with sandbox.session(images=[_png()], image_name="q.png") as session:
        return run_agent(backend, session, _conv(), cfg or AgentConfig())


def test_code_then_answer_inserts_real_sandbox_output(sandbox):
    backend = ScriptedBackend(["<think>Compute it." + CALC, "So 42.</think>\n<answer>42</answer>"])
    rollout = _run(sandbox, backend)
    assert rollout.finish == "answer" and rollout.answer == "42"
    assert rollout.response == (
        "<think>Compute it." + CALC + "<sandbox_output>42</sandbox_output>So 42.</think>\n<answer>42</answer>"
    )
    assert fmt.check(rollout.response) == []
    assert [p.source for p in rollout.conversation.pieces] == ["model", "sandbox", "model"]
    assert backend.calls[0][2] == ["</code>", "</answer>"]  # no <code> stop without ATS


def test_image_output_becomes_placeholder_and_image(sandbox):
    backend = ScriptedBackend(["<think>Crop." + CROP, "Done.</think> <answer>A</answer>"])
    rollout = _run(sandbox, backend)
    assert "<sandbox_output><image></sandbox_output>" in rollout.response
    images = rollout.conversation.all_images
    assert len(images) == 2 and Image.open(io.BytesIO(images[1])).size == (100, 100)
    assert fmt.count_images(fmt.parse(rollout.response)) == 1


def test_ats_samples_code_segments_with_code_settings(sandbox):
    cfg = AgentConfig(text=Sampling(temperature=1.0), code=Sampling(temperature=0.0))
    code_body = CALC[len("<code>") :]
    backend = ScriptedBackend(["<think>Compute.<code>", code_body, "ok</think>\n<answer>42</answer>"])
    rollout = _run(sandbox, backend, cfg)
    temps = [call[1].temperature for call in backend.calls]
    assert temps == [1.0, 0.0, 1.0]
    assert all("<code>" in call[2] for call in backend.calls)
    assert rollout.answer == "42" and "<sandbox_output>42</sandbox_output>" in rollout.response
    assert [p.segment for p in rollout.conversation.pieces if p.source == "model"] == ["text", "code", "text"]


def test_overshoot_past_stop_is_cut(sandbox):
    backend = ScriptedBackend(
        ["<think>x" + CALC + "<sandbox_output>99</sandbox_output>fake", "</think>\n<answer>42</answer>"]
    )
    rollout = _run(sandbox, backend)
    assert "<sandbox_output>42</sandbox_output>" in rollout.response and "99" not in rollout.response


@pytest.mark.parametrize(
    ("replies", "finish", "cfg", "expected"),
    [
        (["<think>no code no answer"], ["stop"], AgentConfig(), "degenerate"),
        (["<think>cut mid-thought"], ["length"], AgentConfig(), "length"),
        (["<think>a" + CALC] * 3, [], AgentConfig(max_calls=3), "max_calls"),
        (["<think>a" + CROP] * 3, [], AgentConfig(max_images=2), "max_images"),
        (["<think>" + "y" * 400 + CALC] * 3, [], AgentConfig(max_total_tokens=150), "max_tokens"),
    ],
)
def test_bounds_end_the_rollout(sandbox, replies, finish, cfg, expected):
    assert _run(sandbox, ScriptedBackend(replies, finish), cfg).finish == expected


def test_errors_are_shown_or_discarded(sandbox):
    bad = "<think>a<code>\n```python\n1/0\n```\n</code>"
    shown = _run(sandbox, ScriptedBackend([bad, "</think>\n<answer>1</answer>"]))
    assert "ZeroDivisionError" in shown.response and shown.executions[0].result.status.value == "error"
    hidden = _run(
        sandbox,
        ScriptedBackend([bad, "<think>b</think>\n<answer>1</answer>"]),
        AgentConfig(show_errors=False),
    )
    assert hidden.discarded == 1 and hidden.response == "<think>b</think>\n<answer>1</answer>"


def test_backend_error_is_recorded(sandbox):
    class Failing:
        def generate(self, conversation, sampling, stop):
            return Generation("", "error", error="teacher_timeout: 3 tries")

    rollout = _run(sandbox, Failing())
    assert rollout.finish == "backend_error" and rollout.error.startswith("teacher_timeout")


@pytest.mark.parametrize("reply", ["<think>crop it<code>", "<think>crop it" + CALC + "<answer>42</answer>"])
def test_without_tools_nothing_runs_and_generation_stops_where_code_opens(reply):
    """The direct-answer setting: a code block can never run, so the call stops at ``<code>`` (a backend that
    overshoots is cut there too) and the rollout ends without an answer after one call."""
    session, backend = _TaggedSession(), ScriptedBackend([reply, "<answer>42</answer>"])
    rollout = run_agent(backend, session, _conv(), AgentConfig(tools=False))
    assert "<code>" in backend.calls[0][2] and len(backend.calls) == 1
    assert session.codes == [] and rollout.executions == []
    assert rollout.response == "<think>crop it<code>" and rollout.finish == "degenerate"
    assert rollout.answer is None


class _TaggedSession:
    """A session whose output holds protocol tags (a SyntaxError traceback of a block named ``<code>``)."""

    feedback = (
        'printed </code> and <answer> then\n  File "<code>", line 1\n'
        "    print(1/)\nSyntaxError: invalid syntax"
    )

    def __init__(self):
        self.codes = []

    def run(self, code):
        self.codes.append(code)
        return ExecResult(ExecStatus.ERROR, error_type="SyntaxError", feedback=self.feedback)


def test_code_block_is_read_from_the_models_own_segment_never_from_sandbox_output():
    session = _TaggedSession()
    backend = ScriptedBackend(
        ["<think>Run it." + CALC, "So it failed.</code>"]
    )  # a "</code>" it never opened
    rollout = run_agent(backend, session, _conv(), AgentConfig())
    assert session.codes == ["print(6 * 7)"] and rollout.finish == "degenerate"
    assert rollout.conversation.segment == "So it failed.</code>"


def test_segment_is_the_model_text_since_the_last_sandbox_output():
    conv = _conv()
    assert conv.segment == ""
    conv.pieces += [
        Piece("model", "<think>a<code>x</code>"),
        Piece("sandbox", "<sandbox_output><code></sandbox_output>"),
    ]
    assert conv.segment == ""
    conv.pieces += [Piece("model", "b<code>"), Piece("model", "y")]
    assert conv.segment == "b<code>y"


class _Opened:
    def __init__(self):
        self.count = 0

    def __call__(self):
        self.count += 1
        return _Null()


class _Null:
    def __enter__(self):
        return _TaggedSession()

    def __exit__(self, *exc):
        return False


def test_run_many_raises_what_is_no_exception_and_starts_no_more_jobs():
    class Dying:
        def __init__(self):
            self.calls = 0

        def generate(self, conversation, sampling, stop):
            self.calls += 1
            if conversation.user == "fatal":
                raise FatalTeacherError("authentication failed for http://h/v1: 401")
            if conversation.user == "boom":
                raise ValueError("per-record trouble")
            return Generation("<answer>1</answer>")

    opened = _Opened()
    jobs = [RolloutJob(Conversation("S", u, ()), opened) for u in ["ok", "boom", "fatal"] + ["ok"] * 30]
    with pytest.raises(FatalTeacherError, match="authentication failed"):
        run_many(Dying(), jobs, concurrency=1)
    assert opened.count == 3  # nothing started after the fatal job
    rollouts = run_many(Dying(), jobs[:2], concurrency=2)  # an Exception stays per-record
    assert [r.finish for r in rollouts] == ["answer", "backend_error"]
    assert rollouts[1].error == "job_exception_ValueError: per-record trouble"


def test_fatal_teacher_error_passes_every_except_exception():
    try:
        try:
            raise FatalTeacherError("x")
        except Exception:  # what per-record handlers (and Beam's dead letters) catch
            pytest.fail("FatalTeacherError was caught as an Exception")
    except FatalTeacherError as err:
        assert find_fatal(err) is not None and str(find_fatal(err)) == "x"
