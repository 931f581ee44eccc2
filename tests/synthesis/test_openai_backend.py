"""The OpenAI-compatible teacher end to end over real HTTP, against a scripted server on 127.0.0.1.

Every rollout goes through the one agent loop with a real sandbox session. Faults are injected by the server
(see ``scripted_server.py``): transient ones must be recovered by retries, persistent ones must end as a
recorded failure with its reason, and nothing may be lost. A second run must be served entirely from the
cache.
"""

import functools
import io
import json
import os
import socket
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from runconfig.keys import api_key
from sandbox import ExecResult, Sandbox, SandboxConfig
from sandbox.layout import INPUT_DIR
from sandbox.result import ExecStatus
from synthesis import format as fmt
from synthesis.agent import AgentConfig, Conversation, Piece, Sampling, cut_at_stop, run_agent
from synthesis.endpoint.backend import OpenAIBackend
from synthesis.endpoint.batch import RolloutJob, run_many
from synthesis.endpoint.cache import CachedReply, RequestCache, request_key
from synthesis.endpoint.config import TeacherConfig
from synthesis.endpoint.errors import FatalTeacherError
from synthesis.endpoint.messages import restore_stop, to_messages

sys.path.insert(0, str(Path(__file__).parent))
from scripted_server import ScriptedTeacher  # noqa: E402

STOPS = ["</code>", "</answer>"]
ATS_STOPS = [*STOPS, "<code>"]


def _png(size=(200, 120)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (30, 60, 90)).save(buf, format="PNG")
    return buf.getvalue()


PNG = _png()


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(SandboxConfig(workers=2)) as sb:
        yield sb


@pytest.fixture
def server():
    with ScriptedTeacher(hang_s=1.5) as s:
        yield s


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # cache_path is relative, as in pipeline.yaml


def _cfg(server, **kw) -> TeacherConfig:
    base = dict(
        base_url=server.base_url,
        model="scripted-teacher",
        timeout_s=0.5,
        max_retries=3,
        backoff_base_s=0.001,
        backoff_max_s=0.01,
        concurrency=8,
        cache_path="cache/teacher.sqlite",
    )
    return TeacherConfig(**(base | kw))


def _conversation(question: str) -> Conversation:
    user = fmt.render_user_prompt(question, INPUT_DIR + "q.png", (200, 120))
    return Conversation(fmt.SYSTEM_PROMPT, user, (PNG,))


def _job(sandbox, question: str, cfg: AgentConfig | None = None) -> RolloutJob:
    session = functools.partial(sandbox.session, images=[PNG], image_name="q.png")
    return RolloutJob(_conversation(question), session, cfg or AgentConfig())


def _run(backend, sandbox, question: str, cfg: AgentConfig | None = None):
    with sandbox.session(images=[PNG], image_name="q.png") as session:
        return run_agent(backend, session, _conversation(question), cfg or AgentConfig())


# --- the trajectory ---------------------------------------------------------------------------------------


def test_code_then_answer_end_to_end(server, sandbox):
    with OpenAIBackend(_cfg(server)) as backend:
        rollout = _run(backend, sandbox, "What is 6*7?")
    assert rollout.finish == "answer" and rollout.answer == "42" and rollout.error == ""
    assert rollout.response == (
        "<think>I will compute it with code.<code>\n```python\nprint(6 * 7)\n```\n</code>"
        "<sandbox_output>42</sandbox_output>The sandbox returned 42, so that is the result."
        "</think>\n<answer>42</answer>"
    )
    assert fmt.check(rollout.response) == []
    assert [p.source for p in rollout.conversation.pieces] == ["model", "sandbox", "model"]
    assert server.requests == 2 and rollout.calls == 2
    first, second = server.bodies
    assert first["stop"] == STOPS and first["model"] == "scripted-teacher"
    assert [m["role"] for m in second["messages"]] == ["system", "user", "assistant", "user"]
    assert second["messages"][0]["content"] == fmt.SYSTEM_PROMPT
    image, text = second["messages"][1]["content"]
    assert image["image_url"]["url"].startswith("data:image/png;base64,") and text["text"].startswith(
        "<image>\n"
    )
    assert second["messages"][3]["content"] == [
        {"type": "text", "text": "<sandbox_output>42</sandbox_output>"}
    ]
    stats = backend.stats
    assert (
        rollout.prompt_tokens == stats.prompt_tokens > 0
        and rollout.completion_tokens == stats.completion_tokens > 0
    )
    assert (stats.calls, stats.requests, stats.cache_misses, stats.cache_hits) == (2, 2, 2, 0)


def test_sandbox_image_goes_back_as_an_image_part(server, sandbox):
    with OpenAIBackend(_cfg(server)) as backend:
        rollout = _run(backend, sandbox, "Zoom in. [crop]")
    assert rollout.finish == "answer" and rollout.answer == "cropped"
    assert len(rollout.conversation.all_images) == 2
    parts = server.bodies[1]["messages"][3]["content"]
    assert [p["type"] for p in parts] == ["text", "image_url", "text"]
    assert parts[0]["text"] == "<sandbox_output>" and parts[2]["text"] == "</sandbox_output>"
    assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,")


def test_continue_mode_sends_one_final_assistant_message(server, sandbox):
    with OpenAIBackend(
        _cfg(server, message_mode="continue", extra_body={"skip_special_tokens": False})
    ) as backend:
        rollout = _run(backend, sandbox, "Zoom in. [crop]")
    assert rollout.finish == "answer" and rollout.answer == "cropped"
    first, second = server.bodies
    assert "continue_final_message" not in first and first["skip_special_tokens"] is False
    assert second["continue_final_message"] is True and second["add_generation_prompt"] is False
    assert [m["role"] for m in second["messages"]] == ["system", "user", "assistant"]
    parts = second["messages"][2]["content"]
    assert [p["type"] for p in parts] == ["text", "image_url", "text"]
    assert parts[0]["text"] == rollout.conversation.pieces[0].text + "<sandbox_output>"
    assert parts[2]["text"] == "</sandbox_output>"


def test_continue_mode_text_only_partial_is_a_string():
    conv = _conversation("q")
    conv.pieces.append(Piece("model", "<think>a<code>"))
    assert to_messages(conv, "continue")[-1] == {"role": "assistant", "content": "<think>a<code>"}
    assert to_messages(conv, "turns")[-1] == {"role": "assistant", "content": "<think>a<code>"}


def test_jpeg_input_is_sent_as_jpeg():
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, format="JPEG")
    conv = Conversation("S", "U", (buf.getvalue(),))
    url = to_messages(conv, "turns", detail="high")[1]["content"][0]["image_url"]
    assert url["url"].startswith("data:image/jpeg;base64,") and url["detail"] == "high"


# --- stop strings -------------------------------------------------------------------------------------------


def test_ats_stop_at_code_is_restored_and_code_is_greedy(server, sandbox):
    cfg = AgentConfig(text=Sampling(temperature=1.0, seed=3), code=Sampling(temperature=0.0, seed=3))
    with OpenAIBackend(_cfg(server, message_mode="continue")) as backend:
        rollout = _run(backend, sandbox, "What is 6*7?", cfg)
    assert rollout.finish == "answer" and rollout.answer == "42" and rollout.calls == 3
    texts = [p.text for p in rollout.conversation.pieces]
    assert texts[0] == "<think>I will compute it with code.<code>"  # the server stripped "<code>"
    assert texts[1] == "\n```python\nprint(6 * 7)\n```\n</code>"  # ... and "</code>"
    assert texts[3].endswith("<answer>42</answer>")  # ... and "</answer>"
    assert [b["temperature"] for b in server.bodies] == [1.0, 0.0, 1.0]
    assert all(b["stop"] == ATS_STOPS and b["seed"] == 3 for b in server.bodies)


def test_send_stop_false_cuts_client_side(server, sandbox):
    with OpenAIBackend(_cfg(server, send_stop=False)) as backend:
        rollout = _run(backend, sandbox, "What is 6*7?")
    assert rollout.finish == "answer" and rollout.answer == "42"
    assert all("stop" not in b for b in server.bodies)
    assert rollout.conversation.pieces[0].text.endswith("</code>")


def test_send_stop_false_reports_server_token_counts(server):
    with OpenAIBackend(_cfg(server, send_stop=False, cache_path="")) as backend:
        gen = backend.generate(_conversation("[answer]"), Sampling(), ["</think>"])
    assert gen.text == "<think>The problem is very simple.</think>" and gen.finish_reason == "stop"
    full = "<think>The problem is very simple.</think>\n<answer>simple</answer>"
    assert gen.completion_tokens == len(full) // 4 + 1  # what the server generated, overshoot included


@pytest.mark.parametrize(
    ("assistant", "text", "stop_reason", "expected"),
    [
        ("", "<think>a<code>\nx\n", None, "<think>a<code>\nx\n</code>"),  # unclosed code
        ("<think>a<code>", "\nx\n", None, "\nx\n</code>"),  # ATS code call: <code> opened before
        ("<think>a", "</think>\n<answer>4", None, "</think>\n<answer>4</answer>"),  # unclosed answer
        ("", "<think>plan", None, "<think>plan<code>"),  # nothing open: <code> was the stop
        ("", "<think>plan", "</answer>", "<think>plan</answer>"),  # vLLM says which stop fired
        ("", "a</code>", None, "a</code>"),  # a server that keeps the stop string
    ],
)
def test_restore_stop(assistant, text, stop_reason, expected):
    assert restore_stop(assistant, text, ATS_STOPS, stop_reason) == expected


TAGGED_OUTPUT = (
    "<sandbox_output>printed </code> and <answer> then\nTraceback (most recent call last):\n"
    '  File "<code>", line 1\n    print(1/)\nSyntaxError: invalid syntax</sandbox_output>'
)


def _tagged_conversation(question: str) -> Conversation:
    conv = _conversation(question)
    conv.pieces += [
        Piece("model", "<think>Run it.<code>\n```python\nprint(1/)\n```\n</code>"),
        Piece("sandbox", TAGGED_OUTPUT),
    ]
    return conv


@pytest.mark.parametrize("stops", [STOPS, ATS_STOPS])
def test_restore_stop_never_reads_tags_in_sandbox_output(stops):
    segment = _tagged_conversation("q").segment
    assert segment == ""  # nothing of the model's own since the sandbox output
    assert not restore_stop(segment, "So it failed", stops).endswith(("</code>", "</answer>"))


def test_stopless_reply_after_tagged_sandbox_output_gets_nothing_appended(server):
    with OpenAIBackend(_cfg(server, cache_path="")) as backend:
        gen = backend.generate(_tagged_conversation("[junk]"), Sampling(), STOPS)
    assert gen.text == "lorem ipsum dolor sit amet " * 3 and gen.finish_reason == "stop"


class _TaggedSession:
    """A session whose output holds protocol tags (a SyntaxError traceback of a block named ``<code>``)."""

    def __init__(self):
        self.codes = []

    def run(self, code):
        self.codes.append(code)
        return ExecResult(ExecStatus.ERROR, error_type="SyntaxError", feedback=TAGGED_OUTPUT[16:-17])


def test_tags_in_sandbox_output_never_run_as_code_end_to_end(server):
    session = _TaggedSession()
    with OpenAIBackend(_cfg(server)) as backend:
        rollout = run_agent(backend, session, _conversation("What is 6*7? [thenjunk]"), AgentConfig())
    assert session.codes == ["print(6 * 7)"]  # the model's block only, never text around the printed "<code>"
    assert rollout.finish == "degenerate" and rollout.calls == 2
    assert rollout.response.endswith("</sandbox_output>" + "lorem ipsum dolor sit amet " * 3)


def test_restore_stop_without_code_stop_leaves_eos_endings_alone():
    assert restore_stop("", "<think>no tags at all", STOPS) == "<think>no tags at all"
    assert cut_at_stop("abc", STOPS) == ("abc", False)


# --- faults -------------------------------------------------------------------------------------------------

TRANSIENT = [  # (marker, reason of each retry, retries)
    ("429x2", "teacher_rate_limited", 2),
    ("500x2", "teacher_server_error", 2),
    ("503x1", "teacher_server_error", 1),
    ("hangx1", "teacher_timeout", 1),
    ("badjsonx1", "teacher_malformed_reply", 1),
    ("nochoicesx2", "teacher_malformed_reply", 2),
    ("emptyx1", "teacher_malformed_reply", 1),
    ("nullx1", "teacher_malformed_reply", 1),
    ("cutx1", "teacher_truncated_reply", 1),
]


@pytest.mark.parametrize(("marker", "reason", "retries"), TRANSIENT)
def test_transient_fault_is_recovered_by_retry(server, sandbox, marker, reason, retries):
    with OpenAIBackend(_cfg(server)) as backend:
        rollout = _run(backend, sandbox, f"What is 6*7? [fault:{marker}@1]")  # at the call after the sandbox
    assert rollout.finish == "answer" and rollout.answer == "42"
    assert dict(backend.stats.retries) == {reason: retries} and not backend.stats.failures
    assert server.requests == 2 + retries


PERSISTENT = [
    ("429", "teacher_rate_limited", 3),
    ("500", "teacher_server_error", 3),
    ("503", "teacher_server_error", 3),
    ("hang", "teacher_timeout", 3),
    ("badjson", "teacher_malformed_reply", 3),
    ("nochoices", "teacher_malformed_reply", 3),
    ("empty", "teacher_malformed_reply", 3),
    ("null", "teacher_malformed_reply", 3),
    ("cut", "teacher_truncated_reply", 3),
    ("400", "teacher_bad_request", 0),  # a client error is not retried
]


@pytest.mark.parametrize(("marker", "reason", "retries"), PERSISTENT)
def test_persistent_fault_ends_as_recorded_failure(server, sandbox, marker, reason, retries):
    with OpenAIBackend(_cfg(server, timeout_s=0.3)) as backend:
        rollout = _run(backend, sandbox, f"What is 6*7? [fault:{marker}]")
        assert len(backend.cache) == 0  # failures are not cached
    assert rollout.finish == "backend_error" and rollout.error.startswith(reason + ": ")
    assert dict(backend.stats.failures) == {reason: 1}
    assert dict(backend.stats.retries) == ({reason: retries} if retries else {})
    assert server.requests == retries + 1


def test_length_is_not_an_error(server, sandbox):
    with OpenAIBackend(_cfg(server)) as backend:
        rollout = _run(backend, sandbox, "What is 6*7? [fault:length]")
    assert rollout.finish == "length" and rollout.error == "" and not backend.stats.failures
    assert server.requests == 1


def test_small_max_tokens_ends_as_length(server, sandbox):
    cfg = AgentConfig(text=Sampling(max_new_tokens=5))
    with OpenAIBackend(_cfg(server)) as backend:
        rollout = _run(backend, sandbox, "What is 6*7?", cfg)
    assert (
        rollout.finish == "length" and rollout.response == "<think>I will comput"
    )  # 5 tokens of 4 characters


def test_junk_reply_ends_degenerate(server, sandbox):
    with OpenAIBackend(_cfg(server)) as backend:
        rollout = _run(backend, sandbox, "[junk]")
    assert rollout.finish == "degenerate" and rollout.answer is None


def test_backoff_honours_retry_after_and_grows_otherwise(server):
    slept = []
    cfg = _cfg(server, backoff_base_s=0.001, backoff_max_s=1.0, cache_path="")
    with OpenAIBackend(cfg, sleep=slept.append) as backend:
        backend.generate(_conversation("[fault:429x2]"), Sampling(), STOPS)
        assert slept == [0.0, 0.0]  # the server said Retry-After: 0
        slept.clear()
        backend.generate(_conversation("[fault:500x3]"), Sampling(), STOPS)
    assert [0.0005 <= s <= 0.001 * 2**i for i, s in enumerate(slept)] == [True, True, True]


# --- batches, cache, key ------------------------------------------------------------------------------------


def _answers(rollouts):
    return [(r.finish, r.response, r.error, r.prompt_tokens, r.completion_tokens) for r in rollouts]


def test_second_run_is_served_entirely_from_cache(sandbox):
    questions = [f"What is {a}+{b}? [calc:{a} + {b}]" for a in range(4) for b in range(3)] + [
        "[crop]",
        "[answer]",
    ]
    jobs = [_job(sandbox, q) for q in questions]
    with ScriptedTeacher() as first:
        with OpenAIBackend(_cfg(first)) as backend:
            one = run_many(backend, jobs, concurrency=8)
        assert all(not j.conversation.pieces for j in jobs)  # jobs are left as they were: runnable again
        assert first.requests == backend.stats.requests == 2 * len(questions) - 1
    with ScriptedTeacher() as second:  # a new server on another port: the cache does not key on the URL
        with OpenAIBackend(_cfg(second)) as backend:
            two = run_many(backend, jobs, concurrency=8)
        assert second.requests == 0
    assert backend.stats.cache_hits == 2 * len(questions) - 1 and backend.stats.cache_misses == 0
    assert backend.stats.cached_completion_tokens == sum(r.completion_tokens for r in two)
    assert _answers(one) == _answers(two)
    assert [r.answer for r in one[:3]] == ["0", "1", "2"] and one[-2].answer == "cropped"


def test_nothing_lost_in_a_mixed_batch(sandbox):
    good = [f"[calc:{i} * 3]" for i in range(10)]
    transient = ["[fault:429x1]", "[fault:500x2@1]", "[fault:badjsonx1]", "[fault:cutx1@1]"]
    persistent = ["[fault:503]", "[fault:nochoices@1]", "[fault:400]"]
    questions = good + transient + persistent + ["[junk]", "[fault:length]"]
    jobs = [_job(sandbox, q) for q in questions]
    jobs.append(RolloutJob(_conversation("boom"), _raising_session))
    with ScriptedTeacher() as server:
        with OpenAIBackend(_cfg(server, max_retries=2)) as backend:
            rollouts = run_many(backend, jobs, concurrency=6)
    assert len(rollouts) == len(jobs)
    assert [r.answer for r in rollouts[:10]] == [str(i * 3) for i in range(10)]
    assert all(r.finish == "answer" for r in rollouts[:14])
    failed = rollouts[14:17]
    assert [r.finish for r in failed] == ["backend_error"] * 3
    assert [r.error.split(":")[0] for r in failed] == [
        "teacher_server_error",
        "teacher_malformed_reply",
        "teacher_bad_request",
    ]
    assert [r.finish for r in rollouts[17:19]] == ["degenerate", "length"]
    assert (
        rollouts[19].finish == "backend_error" and rollouts[19].error == "job_exception_OSError: no sandbox"
    )
    assert dict(backend.stats.failures) == {
        "teacher_server_error": 1,
        "teacher_malformed_reply": 1,
        "teacher_bad_request": 1,
    }
    assert all(r.finish == "answer" or r.error or r.finish in ("degenerate", "length") for r in rollouts)


class _raising_session:  # noqa: N801  (used like a function: open_session())
    def __enter__(self):
        raise OSError("no sandbox")

    def __exit__(self, *exc):
        return False


def test_api_key_comes_from_the_named_variable_and_never_reaches_the_cache(
    server, sandbox, monkeypatch, tmp_path
):
    secret = "sk-test-9f8e7d6c5b4a"
    monkeypatch.setenv("THYME_TEACHER_KEY", secret)
    cfg = _cfg(server, api_key_env="THYME_TEACHER_KEY")
    with OpenAIBackend(cfg, api_key(cfg.api_key_env)) as backend:
        rollout = _run(backend, sandbox, "What is 6*7?")
    assert rollout.answer == "42" and server.auth == [f"Bearer {secret}"] * 2
    files = list((tmp_path / "cache").iterdir())
    assert files and all(secret.encode() not in f.read_bytes() for f in files)
    assert all(server.base_url.encode() not in f.read_bytes() for f in files)
    monkeypatch.delenv("THYME_TEACHER_KEY")
    assert api_key(cfg.api_key_env) == ""  # the backend then sends NO_KEY


def test_extended_sampling_sends_top_k_and_repetition_penalty(server):
    cfg = _cfg(server, extended_sampling=True, cache_path="")
    with OpenAIBackend(cfg) as backend:
        backend.generate(_conversation("[answer]"), Sampling(top_k=50, repetition_penalty=1.05), STOPS)
        backend.generate(_conversation("[answer]"), Sampling(), STOPS)
    assert [(b["top_k"], b["repetition_penalty"]) for b in server.bodies] == [(50, 1.05), (-1, 1.0)]


def test_stats_as_dict_is_plain_data(server):
    with OpenAIBackend(_cfg(server)) as backend:
        backend.generate(_conversation("[fault:500x1]"), Sampling(), STOPS)
        backend.generate(_conversation("[fault:500x1]"), Sampling(), STOPS)  # now from the cache
        backend.generate(_conversation("[fault:400]"), Sampling(), STOPS)
    d = backend.stats.as_dict()
    assert d["retries"] == {"teacher_server_error": 1} and d["failures"] == {"teacher_bad_request": 1}
    assert (d["calls"], d["requests"], d["cache_misses"], d["cache_hits"]) == (3, 3, 2, 1)
    assert (d["preflight_requests"], d["fatal"]) == (1, "")
    assert json.loads(json.dumps(d)) == d


# --- lone surrogates ----------------------------------------------------------------------------------------


def test_cache_round_trips_any_str(tmp_path):
    odd = CachedReply("a\ud800b\udfffc\U0001f600", "stop", 3, 4, stop_reason="\udc80")
    key = request_key({"messages": [{"content": "x\ud800"}]})  # a key for a request holding one, too
    cache = RequestCache(tmp_path / "c.sqlite")
    cache.put(key, odd)
    cache.put("plain", CachedReply("ok", "stop", 1, 1))
    cache.close()
    again = RequestCache(tmp_path / "c.sqlite")
    assert again.get(key) == odd and again.get("plain") == CachedReply("ok", "stop", 1, 1)
    assert request_key({"a": "é"}) == request_key({"a": "\u00e9"})


def test_lone_surrogate_reply_is_a_teacher_reason_not_a_job_exception(sandbox):
    jobs = [_job(sandbox, "[fault:surrogatex1]"), _job(sandbox, "[fault:surrogate]")]
    with ScriptedTeacher() as server:
        with OpenAIBackend(_cfg(server, max_retries=1)) as backend:
            recovered, failed = run_many(backend, jobs, concurrency=2)
            assert len(backend.cache) == 2  # the two good replies of the recovered rollout, nothing else
    assert recovered.finish == "answer" and "\ud800" not in recovered.response
    assert failed.finish == "backend_error" and failed.error.startswith("teacher_malformed_reply: ")
    assert "lone surrogate" in failed.error and dict(backend.stats.failures) == {"teacher_malformed_reply": 1}


def test_unencodable_conversation_is_a_teacher_reason(server):
    with OpenAIBackend(_cfg(server)) as backend:
        gen = backend.generate(_conversation("bad \ud800 text"), Sampling(), STOPS)
    assert gen.finish_reason == "error" and gen.error.startswith("teacher_unencodable_request: ")
    assert server.requests == 0 and not backend.stats.retries


# --- errors no retry can fix: preflight and fail-fast -------------------------------------------------------


def test_preflight_bad_key_names_authentication_and_the_endpoint():
    with ScriptedTeacher(api_key="sk-right") as server:
        with OpenAIBackend(_cfg(server), api_key="sk-wrong") as backend:
            with pytest.raises(FatalTeacherError, match="^authentication failed for ") as err:
                backend.preflight()
            assert (
                server.base_url in str(err.value) and "401" in str(err.value) and "\n" not in str(err.value)
            )
            with pytest.raises(FatalTeacherError, match="authentication"):  # every later call, at once
                backend.generate(_conversation("What is 6*7?"), Sampling(), STOPS)
        assert server.received == 1 and len(server.preflights) == 1
    assert backend.stats.fatal == str(err.value)


def test_preflight_unknown_model_names_the_model():
    with ScriptedTeacher(strict_model=True) as server:
        with OpenAIBackend(_cfg(server, model="no-such-model")) as backend:
            with pytest.raises(FatalTeacherError, match="model 'no-such-model' not found at ") as err:
                backend.preflight()
        assert server.base_url in str(err.value) and server.received == 1


def test_preflight_connection_refused_fails_at_once():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket is closed
    start = time.monotonic()
    with OpenAIBackend(_cfg(_At(f"http://127.0.0.1:{port}/v1"), timeout_s=30.0)) as backend:
        with pytest.raises(
            FatalTeacherError, match=f"cannot connect to http://127.0.0.1:{port}/v1: .*refused"
        ):
            backend.generate(
                _conversation("What is 6*7?"), Sampling(), STOPS
            )  # preflight before the first miss
    assert time.monotonic() - start < 3.0 and backend.stats.requests == 0


def test_preflight_400_for_every_request():
    with ScriptedTeacher(always="400") as server:
        with OpenAIBackend(_cfg(server)) as backend:
            with pytest.raises(FatalTeacherError, match="^every request is refused by http://"):
                backend.preflight()
        assert server.received == 1


def test_preflight_once_before_the_first_miss_never_cached_and_skipped_by_a_cached_rerun(sandbox):
    jobs = [_job(sandbox, f"[calc:{i} + 1]") for i in range(4)]
    with ScriptedTeacher() as server:
        with OpenAIBackend(_cfg(server)) as backend:
            first = run_many(backend, jobs, concurrency=4)
            assert len(backend.cache) == 8  # the rollouts' requests only
        assert len(server.preflights) == 1 and server.requests == 8 and server.received == 9
        probe = server.preflights[0]
        assert probe["max_tokens"] == 1 and probe["model"] == "scripted-teacher" and probe["stop"] == STOPS
        assert probe["messages"][1]["content"][0]["type"] == "image_url"  # shaped like a real request
    with ScriptedTeacher() as rerun:
        with OpenAIBackend(_cfg(rerun)) as backend:
            again = run_many(backend, jobs, concurrency=4)
        assert rerun.received == 0 and backend.stats.preflight_requests == 0
    assert _answers(first) == _answers(again) and [r.answer for r in first] == ["1", "2", "3", "4"]


def test_preflight_leaves_transient_trouble_to_the_retries(sandbox):
    with ScriptedTeacher(always="503") as server:
        with OpenAIBackend(_cfg(server, max_retries=1)) as backend:
            backend.preflight()  # an overloaded server is not a misconfigured one
            rollout = _run(backend, sandbox, "What is 6*7?")
    assert rollout.finish == "backend_error" and rollout.error.startswith("teacher_server_error")
    assert backend.stats.fatal == ""


class _CountingOpen:
    def __init__(self, sandbox):
        self.sandbox, self.opened = sandbox, 0

    def __call__(self):
        self.opened += 1
        return self.sandbox.session(images=[PNG], image_name="q.png")


def _counted_jobs(sandbox, questions):
    opener = _CountingOpen(sandbox)
    return [RolloutJob(_conversation(q), opener) for q in questions], opener


@pytest.mark.parametrize(
    ("server_kw", "cfg_kw", "message"),
    [
        ({"api_key": "sk-right"}, {}, "authentication failed for "),
        ({"strict_model": True}, {"model": "no-such-model"}, "model 'no-such-model' not found at "),
        ({"always": "400"}, {}, "every request is refused by "),
    ],
)
def test_repeated_refusal_during_a_run_stops_run_many(sandbox, server_kw, cfg_kw, message):
    jobs, opener = _counted_jobs(sandbox, [f"[calc:{i} * 2]" for i in range(20)])
    with ScriptedTeacher(**server_kw) as server:
        cfg = _cfg(server, preflight=False, fatal_after=3, **cfg_kw)
        with OpenAIBackend(cfg, api_key="sk-wrong") as backend:
            with pytest.raises(FatalTeacherError, match=f"^{message}.*\\(3 requests in a row\\)$") as err:
                run_many(backend, jobs, concurrency=2)
        assert server.requests <= 4 and opener.opened <= 4  # 3 refusals and at most one more in flight
    assert server.base_url in str(err.value) and backend.stats.fatal == str(err.value)


def test_refusals_that_differ_or_are_retryable_stay_per_record(sandbox):
    varied = [f"[fault:toolong] {'x' * (8 * i)}" for i in range(4)]  # context-length-like 400s: each its own
    transient = ["[fault:500]", "[fault:429]", "[fault:500]", "[fault:429]"]
    jobs = [_job(sandbox, q) for q in varied + transient]
    with ScriptedTeacher() as server:
        with OpenAIBackend(_cfg(server, max_retries=1, fatal_after=2)) as backend:
            rollouts = run_many(backend, jobs, concurrency=1)
    assert [r.error.split(":")[0] for r in rollouts] == ["teacher_bad_request"] * 4 + [
        "teacher_server_error",
        "teacher_rate_limited",
    ] * 2
    assert backend.stats.retries == {"teacher_server_error": 2, "teacher_rate_limited": 2}
    assert backend.stats.fatal == ""


def test_fatal_after_zero_never_stops(sandbox):
    with ScriptedTeacher(api_key="sk-right") as server:
        with OpenAIBackend(_cfg(server, preflight=False, fatal_after=0), api_key="sk-wrong") as backend:
            rollouts = run_many(backend, [_job(sandbox, "q") for _ in range(4)], concurrency=1)
    assert [r.error.split(":")[0] for r in rollouts] == ["teacher_auth_error"] * 4 and server.requests == 4


def test_a_success_breaks_the_streak(sandbox):
    questions = ["[fault:400]", "[fault:400]", "[calc:1]", "[fault:400]", "[fault:400]"]
    with ScriptedTeacher() as server:
        with OpenAIBackend(_cfg(server, fatal_after=3)) as backend:
            rollouts = run_many(backend, [_job(sandbox, q) for q in questions], concurrency=1)
    assert [r.finish for r in rollouts] == ["backend_error"] * 2 + ["answer"] + ["backend_error"] * 2


def test_config_takes_absolute_cache_path_and_rejects_only_invalid_ones(server, tmp_path):
    absolute = tmp_path / "elsewhere" / "teacher.sqlite"
    with OpenAIBackend(_cfg(server, cache_path=str(absolute))) as backend:
        backend.generate(_conversation("[answer]"), Sampling(), STOPS)
        assert len(backend.cache) == 1
    assert absolute.is_file()
    for bad, why in (("cache/", "folder"), ("cache/..", "folder"), ("a\0b", "NUL")):
        with pytest.raises(ValueError, match=why):
            TeacherConfig(cache_path=bad)
    with pytest.raises(ValueError, match="concurrency"):
        TeacherConfig(concurrency=0)
    with pytest.raises(ValueError, match="fatal_after"):
        TeacherConfig(fatal_after=-1)


def test_config_builds_strictly_from_yaml_mapping():
    from runconfig.typed import ConfigError, build

    cfg = build(
        TeacherConfig, {"model": "m", "message_mode": "continue", "extra_body": {"top_k": 20}}, source="t"
    )
    assert cfg.message_mode == "continue" and cfg.extra_body == {"top_k": 20}
    with pytest.raises(ConfigError, match="api_key"):
        build(TeacherConfig, {"api_key": "sk-..."}, source="t")  # the key never comes from the file


# --- a real server: transformers serve with a tiny random checkpoint ----------------------------------------

CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}"
    "{{ message['content'] }}{% else %}{% for c in message['content'] %}"
    "{% if c['type'] in ('image', 'image_url') %}<image>"
    "{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _tiny_checkpoint(out: Path) -> Path:
    from transformers import AutoProcessor

    from train.config import ModelConfig
    from train.tiny_model import build_tiny

    texts = [
        fmt.SYSTEM_PROMPT,
        "<think>I will compute.<code>\n```python\nprint(6 * 7)\n```\n</code>"
        "<sandbox_output>42</sandbox_output></think>\n<answer>42</answer>",
    ] * 5
    path = build_tiny(ModelConfig(vocab_size=600, hidden_size=64, layers=2, heads=2), texts, out)
    processor = AutoProcessor.from_pretrained(path)
    processor.chat_template = processor.tokenizer.chat_template = CHATML  # the tiny model ships none
    processor.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def transformers_serve(tmp_path_factory):
    import socket
    import subprocess
    import time
    import urllib.request

    ckpt = _tiny_checkpoint(tmp_path_factory.mktemp("tiny"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = Path(sys.executable).with_name("transformers")
    proc = subprocess.Popen(
        [str(exe), "serve", str(ckpt), "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"],
        env=os.environ | {"HF_HUB_OFFLINE": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.skip("transformers serve did not come up")
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/v1", str(ckpt)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class _At:  # what _cfg needs of a server
    def __init__(self, base_url: str):
        self.base_url = base_url


@pytest.mark.slow
def test_transformers_serve_junk_ends_as_recorded_rollouts(transformers_serve, sandbox):
    base_url, model = transformers_serve
    agent = AgentConfig(max_calls=2, text=Sampling(temperature=1.0, max_new_tokens=24, seed=1))
    jobs = []
    for i in range(3):
        job = _job(sandbox, f"What is {i}?", agent)
        # The tiny tokenizer's image token is the literal "<image>": drop the Thyme prompt's textual one.
        job.conversation.user = job.conversation.user.removeprefix("<image>\n")
        jobs.append(job)
    kw = dict(base_url=base_url, model=model, timeout_s=120.0, max_retries=1)
    with OpenAIBackend(_cfg(_At(base_url), **kw, send_stop=False)) as backend:
        rollouts = run_many(backend, jobs, concurrency=2)
        assert backend.stats.prompt_tokens > 0 and backend.stats.completion_tokens > 0
    assert len(rollouts) == 3
    assert all(r.finish in ("length", "degenerate", "max_calls", "answer", "backend_error") for r in rollouts)
    assert all(r.finish != "backend_error" or r.error.startswith("teacher_") for r in rollouts)
    with OpenAIBackend(_cfg(_At(base_url), **kw, send_stop=False)) as backend:
        again = run_many(backend, jobs, concurrency=2)
        assert backend.stats.requests == 0  # the rerun is served from the cache
    assert _answers(again) == _answers(rollouts)
    # Stop strings on a VLM make transformers serve answer 500, and the kept-alive connection then drops
    # (stack.md §5): recorded with its reason, not raised.
    with OpenAIBackend(_cfg(_At(base_url), **kw, send_stop=True, cache_path="")) as backend:
        stopped = run_many(backend, jobs[:1], concurrency=1)[0]
    assert stopped.finish != "backend_error" or stopped.error.startswith(
        ("teacher_server_error", "teacher_connection_error")
    )
