"""The LLM judge via the real ``openai`` client, against a scripted OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import pytest

from synthesis.records import SftRecord
from validators.answer import check_answer
from validators.config import AnswerCheckConfig, ConsistencyCheckConfig, JudgeConfig
from validators.consistency import check_consistency
from validators.judge import OpenAIJudge, parse_reply


def _scripted_judge():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "synthesis" / "scripted_server.py"
    spec = importlib.util.spec_from_file_location("scripted_server", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ScriptedJudge


@pytest.fixture(scope="module")
def server():
    with _scripted_judge()() as script:
        yield script, script.base_url


@pytest.fixture
def judge(server):
    script, url = server
    script.replies, script.requests = ['{"Correctness": 1}'], []
    return script, OpenAIJudge(JudgeConfig(base_url=url, model="judge-model", timeout_s=5.0), api_key="k")


def _record(answer_text: str) -> SftRecord:
    response = (
        f"<think>The sign reads basket. So the answer is basket.</think> <answer>{answer_text}</answer>"
    )
    return SftRecord(
        id="t",
        images=(b"",),
        question="What is written on the sign?",
        image_size=(1, 1),
        response=response,
        answer="basket",
        answer_type="text",
        family="crop",
    )


def test_parse_reply():
    assert parse_reply('{"Consistency": 0} trailing', "Consistency") is False
    assert parse_reply('{"Correctness": "1"}', "Correctness") is True
    assert parse_reply('{"Correctness": 7}', "Correctness") is None


def test_correct_answer_accepted_by_judge_with_original_protocol(judge):
    script, client = judge
    verdict = check_answer(_record("a wicker basket"), AnswerCheckConfig(use_judge=True), client)
    assert verdict.passed and verdict.detail == "judge"
    (request,) = script.requests
    assert (
        request["model"] == "judge-model" and request["temperature"] == 0.1 and request["max_tokens"] == 256
    )
    prompt = request["messages"][0]["content"]
    assert "a wicker basket" in prompt and "Reference answer: basket" in prompt and '"Correctness"' in prompt


def test_wrong_answer_rejected_by_judge(judge):
    script, client = judge
    script.replies = ['I think {"Correctness": 0}']
    verdict = check_answer(_record("a bucket"), AnswerCheckConfig(use_judge=True), client)
    assert verdict.reason == "answer_judge_rejected"


def test_unusable_replies_are_retried_three_times_then_judge_error(judge):
    script, client = judge
    script.replies = ["no json", "HTTP500", "{}"]
    verdict = check_answer(_record("a bucket"), AnswerCheckConfig(use_judge=True), client)
    assert verdict.reason == "answer_judge_error" and len(script.requests) == 3


def test_retry_succeeds_on_a_later_attempt(judge):
    script, client = judge
    script.replies = ["HTTP500", '{"Correctness": 1}']
    assert check_answer(_record("wicker basket"), AnswerCheckConfig(use_judge=True), client).passed


def test_consistency_judge(judge):
    script, client = judge
    script.replies = ['{"Consistency": 0}']
    verdict = check_consistency(_record("basket"), ConsistencyCheckConfig(use_judge=True), client)
    assert verdict.reason == "consistency_judge_rejected"
    prompt = script.requests[0]["messages"][0]["content"]
    assert "So the answer is basket." in prompt and '"Consistency"' in prompt
    script.replies = ['{"Consistency": 1}']
    assert check_consistency(_record("basket"), ConsistencyCheckConfig(use_judge=True), client).passed
    script.replies = ["??"]
    assert (
        check_consistency(_record("basket"), ConsistencyCheckConfig(use_judge=True), client).reason
        == "consistency_judge_error"
    )
