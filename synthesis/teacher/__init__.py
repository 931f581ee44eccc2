"""The programmatic teacher: natural Thyme trajectories for known-answer tasks, without any model.

It is a scripted policy driven through the same agent loop as every model (``synthesis.agent.run_agent``):
each code block really runs in the trajectory's sandbox session, and the images and printed values the
trajectory contains are the sandbox's real outputs.
"""

from __future__ import annotations

from collections.abc import Sequence

from sandbox.layout import INPUT_DIR
from sandbox.opener import SessionOpener
from synthesis import format as fmt
from synthesis.agent import AgentConfig, Conversation, Generation, Rollout, Sampling, run_agent
from synthesis.tasks import Task
from synthesis.teacher.plans import Script, plan_script

__all__ = ["TEACHER_NAME", "TEACHER_VERSION", "ScriptedPolicy", "image_name", "teach", "user_prompt"]

TEACHER_NAME = "programmatic"
TEACHER_VERSION = "0.2.0"  # 0.2: crop blocks guard their box, compute blocks name their values


class ScriptedPolicy:
    """A :class:`~synthesis.agent.Backend` that plays a :class:`Script`, one segment per call."""

    def __init__(self, script: Script):
        self.script = script

    def generate(self, conversation: Conversation, sampling: Sampling, stop: Sequence[str]) -> Generation:
        done = sum(1 for p in conversation.pieces if p.source == "sandbox")
        opening = "" if conversation.pieces else "<think>"
        if done < len(self.script.rounds):
            r = self.script.rounds[done]
            text = f"{opening}{r.text}{fmt.render_code(r.code)}"
        else:
            output = _last_output_text(conversation)
            closing = self.script.conclusion.replace("{output}", output)
            text = f"{opening}{closing}</think>{self.script.separator}<answer>{self.script.answer}</answer>"
        return Generation(text, "stop", completion_tokens=len(text) // 4)


def _last_output_text(conversation: Conversation) -> str:
    for piece in reversed(conversation.pieces):
        if piece.source == "sandbox":
            return piece.text.removeprefix("<sandbox_output>").removesuffix("</sandbox_output>")
    return ""


def image_name(task: Task) -> str:
    """File name of the task's input image inside the sandbox (and in the user prompt)."""
    return f"{task.id}.{'jpg' if task.image_format == 'jpeg' else 'png'}"


def user_prompt(task: Task) -> str:
    """The Thyme user prompt of ``task``, naming the path the sandbox serves its image at."""
    return fmt.render_user_prompt(task.question, INPUT_DIR + image_name(task), (task.width, task.height))


def teach(task: Task, sandbox: SessionOpener) -> Rollout:
    """Write and execute the trajectory for ``task`` in a fresh sandbox session of ``sandbox``.

    Args:
        task (`Task`): the task with its known answer.
        sandbox (`sandbox.Sandbox`): the pool; the session is seeded by the task so reruns are identical.
    """
    script = plan_script(task, INPUT_DIR + image_name(task))
    conversation = Conversation(fmt.SYSTEM_PROMPT, user_prompt(task), (task.image,))
    cfg = AgentConfig(max_calls=len(script.rounds) + 1, max_total_tokens=1 << 20)
    with sandbox.session(
        images=[task.image], image_name=image_name(task), item_id=task.id, seed=task.seed
    ) as session:
        return run_agent(ScriptedPolicy(script), session, conversation, cfg)
