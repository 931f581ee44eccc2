"""The LLM judge through the real ``openai`` client, against a scripted OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from synthesis.records import SftRecord
from validators.answer import check_answer
from validators.config import AnswerCheckConfig, ConsistencyCheckConfig, JudgeConfig
from validators.consistency import check_consistency
from validators.judge import OpenAIJudge, parse_reply


class _Script:
    """Replies served in order (the last one repeats); every request body is kept."""

    def __init__(self):
        self.replies: list[str] = ['{"Correctness": 1}']
        self.requests: list[dict] = []
        self.lock = threading.Lock()

    def next(self, body: dict) -> str:
        with self.lock:
            self.requests.append(body)
            return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]


@pytest.fixture(scope="module")
def server():
    script = _Script()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            reply = script.next(body)
            if reply == "HTTP500":
                self.send_response(500)
                self.end_headers()
                return
            payload = json.dumps({
                "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": body["model"],
                "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": reply}}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield script, f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def judge(server):
    script, url = server
    script.replies, script.requests = ['{"Correctness": 1}'], []
    return script, OpenAIJudge(JudgeConfig(base_url=url, model="judge-model", timeout_s=5.0), api_key="k")


def _record(answer_text: str) -> SftRecord:
    response = f"<think>The sign reads basket. So the answer is basket.</think> <answer>{answer_text}</answer>"
    return SftRecord("t", (b"",), "What is written on the sign?", (1, 1), response, "basket", "text", "crop")


def test_parse_reply():
    assert parse_reply('{"Consistency": 0} trailing', "Consistency") is False
    assert parse_reply('{"Correctness": "1"}', "Correctness") is True
    assert parse_reply('{"Correctness": 7}', "Correctness") is None


def test_correct_answer_accepted_by_judge_with_original_protocol(judge):
    script, client = judge
    verdict = check_answer(_record("a wicker basket"), AnswerCheckConfig(use_judge=True), client)
    assert verdict.passed and verdict.detail == "judge"
    (request,) = script.requests
    assert request["model"] == "judge-model" and request["temperature"] == 0.1 and request["max_tokens"] == 256
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
    assert check_consistency(_record("basket"), ConsistencyCheckConfig(use_judge=True), client).reason == \
        "consistency_judge_error"
