"""The one multi-turn agent loop: generate, run the code block in the trajectory's sandbox session, continue.

Every model-driven path uses it: the OpenAI-compatible teacher, RL rollouts and evaluation. A backend only has
to continue a :class:`Conversation` until a stop string; the loop owns the protocol (thyme.md §1, §2.5, §6.2):

* generate until ``</code>`` or ``</answer>`` (and, with adaptive temperature sampling or without tools, until
  ``<code>``);
* a segment with an answer ends the rollout; a segment ending in a code block is executed in the sandbox
  session of this trajectory and ``<sandbox_output>`` with ``<image>`` placeholders or text is appended to the
  same assistant message; anything else ends the rollout as degenerate;
* turns, tokens and images are bounded; code segments can be sampled with their own settings (GRPO-ATS: text
  at temperature 1.0, code greedily).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from sandbox import ExecResult
from synthesis import format as fmt
from synthesis.prompts import NO_TOOL_SUFFIX, NO_TOOL_SYSTEM

__all__ = [
    "NO_TOOL_SYSTEM",
    "AgentConfig",
    "Backend",
    "Conversation",
    "Executed",
    "Generation",
    "Piece",
    "Rollout",
    "Sampling",
    "cut_at_stop",
    "no_tool_conversation",
    "run_agent",
]

CODE_OPEN, CODE_CLOSE, ANSWER_CLOSE = (
    fmt.CODE_OPEN,
    fmt.CODE_CLOSE,
    fmt.ANSWER_CLOSE,
)  # the protocol's, defined once


@dataclass(frozen=True, slots=True)
class Sampling:
    """Decoding settings of one generation call."""

    temperature: float = field(default=1.0, metadata={"help": "0 means greedy."})
    top_p: float = field(default=1.0, metadata={"help": "Nucleus sampling mass."})
    top_k: int = field(default=0, metadata={"help": "Top-k cut-off; 0 disables it."})
    repetition_penalty: float = field(default=1.0, metadata={"help": "1.0 disables it."})
    max_new_tokens: int = field(default=2048, metadata={"help": "Tokens per generation call."})
    seed: int | None = field(
        default=None, metadata={"help": "Per-request seed where the backend supports it."}
    )


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """Bounds and sampling of the loop (defaults follow the original's evaluation and RL settings)."""

    max_calls: int = field(default=5, metadata={"help": "Generation calls per rollout (Thyme: 5)."})
    max_images: int = field(default=10, metadata={"help": "Images per rollout, the input image included."})
    max_total_tokens: int = field(
        default=10240, metadata={"help": "Model tokens per rollout, all calls together."}
    )
    text: Sampling = field(default_factory=Sampling, metadata={"help": "Sampling of reasoning text."})
    code: Sampling | None = field(
        default=None,
        metadata={
            "help": "Sampling of code segments (GRPO-ATS: temperature 0). None samples code like text."
        },
    )
    show_errors: bool = field(
        default=True,
        metadata={
            "help": "Show a failed block's error to the model (RL); False discards the segment (eval)."
        },
    )
    tools: bool = field(
        default=True,
        metadata={
            "help": "False: the direct-answer setting. Nothing runs; generation stops where a code block "
            "opens, since that block could never run and the call could no longer end in an answer."
        },
    )

    def __post_init__(self):
        if self.max_calls < 1 or self.max_images < 1 or self.max_total_tokens < 1:
            raise ValueError("max_calls, max_images and max_total_tokens must all be >= 1")


@dataclass(frozen=True, slots=True)
class Piece:
    """One piece of the assistant message: model text, or a sandbox output inserted by the loop."""

    source: Literal["model", "sandbox"]
    text: str
    images: tuple[bytes, ...] = ()  # images a sandbox piece inserts, in placeholder order
    segment: Literal["text", "code", ""] = ""  # for model pieces: which sampling produced it
    token_ids: tuple[int, ...] = ()  # model pieces, when the backend reports them (RL needs them)
    logprobs: tuple[float, ...] = ()


@dataclass(slots=True)
class Conversation:
    """What a backend continues: system prompt, the user turn (text + input image) and the assistant
    so far."""

    system: str
    user: str
    images: tuple[bytes, ...]  # the user's input image(s)
    pieces: list[Piece] = field(default_factory=list)

    @property
    def assistant(self) -> str:
        """The assistant message so far, exactly as it will be stored."""
        return "".join(p.text for p in self.pieces)

    @property
    def segment(self) -> str:
        """The model's own text since the last sandbox output: the only text in which a tag can be open.

        Sandbox outputs print whatever the code printed (a traceback of a block compiled as ``<code>``
        included), so whether a code block or an answer is open is never read from them.
        """
        tail = []
        for piece in reversed(self.pieces):
            if piece.source != "model":
                break
            tail.append(piece.text)
        return "".join(reversed(tail))

    @property
    def all_images(self) -> list[bytes]:
        """Input images, then every image the sandbox returned, in ``<image>`` order."""
        return [*self.images, *(img for p in self.pieces for img in p.images)]


@dataclass(frozen=True, slots=True)
class Generation:
    """A backend's answer to one call: the text up to and including the stop string that ended it."""

    text: str
    finish_reason: Literal["stop", "length", "error"] = "stop"
    token_ids: tuple[int, ...] = ()
    logprobs: tuple[float, ...] = ()
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str = ""


class Backend(Protocol):
    """Anything that can continue a conversation: an HTTP endpoint, a local ``transformers`` model."""

    def generate(self, conversation: Conversation, sampling: Sampling, stop: Sequence[str]) -> Generation:
        """Continue ``conversation.assistant``; return new text ending with the stop string that ended it."""


class Session(Protocol):
    """The sandbox session of one trajectory (:meth:`sandbox.Sandbox.session`)."""

    def run(self, code: str) -> ExecResult: ...


@dataclass(frozen=True, slots=True)
class Executed:
    """One code block the loop ran: the code as the model wrote it, the result, and whether it was shown."""

    code: str
    result: ExecResult
    shown: bool  # False when a failed block was discarded (show_errors=False)


Finish = Literal["answer", "max_calls", "max_images", "max_tokens", "length", "degenerate", "backend_error"]


@dataclass(slots=True)
class Rollout:
    """A finished trajectory with everything needed to store, reward or train on it."""

    conversation: Conversation
    executions: list[Executed] = field(default_factory=list)
    finish: Finish = "degenerate"
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    discarded: int = 0  # failed segments dropped when errors are not shown
    error: str = ""

    @property
    def response(self) -> str:
        """The full assistant message."""
        return self.conversation.assistant

    @property
    def answer(self) -> str | None:
        """The extracted final answer, None when there is none."""
        return fmt.extract_answer(self.response)


def _stops(cfg: AgentConfig) -> list[str]:
    return [CODE_CLOSE, ANSWER_CLOSE] + ([CODE_OPEN] if cfg.code is not None or not cfg.tools else [])


def _next_sampling(cfg: AgentConfig, segment: str) -> tuple[Sampling, Literal["text", "code"]]:
    if cfg.code is not None and segment.endswith(CODE_OPEN):
        return cfg.code, "code"
    return cfg.text, "text"


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """Cut ``text`` just after the first stop string it contains (a backend may overshoot its stop, and an
    endpoint without server-side stop strings stops nowhere); the stop itself is kept.

    Args:
        text (`str`): generated text.
        stops (`Sequence[str]`): the stop strings of the call.

    Returns:
        The text up to and including the earliest stop, and whether one was found.

    Example:
        >>> cut_at_stop("a</code>b</answer>", ["</answer>", "</code>"])
        ('a</code>', True)
    """
    ends = [text.find(s) + len(s) for s in stops if s and s in text]
    return (text[: min(ends)], True) if ends else (text, False)


def no_tool_conversation(row: dict) -> Conversation:
    """The direct-answer conversation of an RL prompt row: no tools, no code, one call (like the original's
    no-tool fallback prompt). The difficulty filter and the "without tools" evaluation both ask it.

    Example:
        >>> c = no_tool_conversation({"question": "How many?", "image": {"bytes": b"png"}})
        >>> c.system, c.images
        ('You are a helpful assistant.', (b'png',))
    """
    return Conversation(NO_TOOL_SYSTEM, row["question"] + NO_TOOL_SUFFIX, (row["image"]["bytes"],))


def run_agent(backend: Backend, session: Session, conversation: Conversation, cfg: AgentConfig) -> Rollout:
    """Drive ``backend`` through the Thyme protocol until an answer or a bound; never raises for model junk.

    Args:
        backend (`Backend`): continues the conversation.
        session (`Session`): the sandbox session of this trajectory; code blocks run there in order.
        conversation (`Conversation`): the prompt (and any forced assistant prefix in ``pieces``).
        cfg (`AgentConfig`): bounds and sampling.
    """
    rollout = Rollout(conversation)
    stops = _stops(cfg)
    while rollout.calls < cfg.max_calls:
        sampling, segment = _next_sampling(cfg, conversation.segment)
        budget = cfg.max_total_tokens - rollout.completion_tokens
        if budget <= 0:
            rollout.finish = "max_tokens"
            return rollout
        sampling = _with_budget(sampling, budget)
        gen = backend.generate(conversation, sampling, stops)
        rollout.calls += 1
        rollout.prompt_tokens += gen.prompt_tokens
        rollout.completion_tokens += gen.completion_tokens
        if gen.finish_reason == "error":
            rollout.finish, rollout.error = "backend_error", gen.error
            return rollout
        text, _ = cut_at_stop(gen.text, stops)
        piece = Piece("model", text, segment=segment, token_ids=gen.token_ids, logprobs=gen.logprobs)
        finish = _step(rollout, session, piece, cfg, truncated=gen.finish_reason == "length")
        if finish is not None:
            rollout.finish = finish
            return rollout
    rollout.finish = "max_calls"
    return rollout


def _with_budget(sampling: Sampling, budget: int) -> Sampling:
    if sampling.max_new_tokens <= budget:
        return sampling
    return Sampling(
        sampling.temperature,
        sampling.top_p,
        sampling.top_k,
        sampling.repetition_penalty,
        budget,
        sampling.seed,
    )


def _step(
    rollout: Rollout, session: Session, piece: Piece, cfg: AgentConfig, truncated: bool
) -> Finish | None:
    """Append one model piece and act on it; returns how the rollout ends, or None to continue."""
    conversation = rollout.conversation
    conversation.pieces.append(piece)
    if fmt.has_answer(piece.text):
        return "answer"
    if not cfg.tools:
        return "length" if truncated else "degenerate"
    if cfg.code is not None and piece.text.endswith(CODE_OPEN) and not truncated:
        return None  # the code segment comes next, with its own sampling
    # With ATS the block spans two pieces ("...<code>" then "...</code>"): read it from the model's own
    # segment, never from a sandbox output before it (a "<code>" printed there is not a block
    # the model opened).
    code = fmt.last_code_block(conversation.segment) if piece.text.endswith(CODE_CLOSE) else None
    if code is None:
        return "length" if truncated else "degenerate"
    if len(conversation.all_images) >= cfg.max_images:
        return "max_images"
    result = session.run(code)
    rollout.executions.append(Executed(code, result, shown=result.ok or cfg.show_errors))
    if not result.ok and not cfg.show_errors:
        # Eval behaviour: drop the failed segment (its text and code pieces); the call stays consumed.
        while conversation.pieces and conversation.pieces[-1].source == "model":
            conversation.pieces.pop()
        rollout.discarded += 1
        return None
    images = tuple(result.images[: cfg.max_images - len(conversation.all_images)])
    output = fmt.render_sandbox_output(len(images), "" if images else result.feedback)
    conversation.pieces.append(Piece("sandbox", output, images=images))
    return None
