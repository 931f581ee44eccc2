"""The OpenAI-compatible backend: request layout, stop handling, errors (with a fake client)."""

from types import SimpleNamespace

from synthesis.agent import Conversation, Piece, Sampling
from train.openai_backend import OpenAIBackend, chat_messages


class FakeClient:
    def __init__(self, content, finish="stop", stop_reason=None, error=None):
        self.requests, self.content, self.finish, self.stop_reason, self.error = [], content, finish, stop_reason, error
        self.chat = SimpleNamespace(completions=SimpleNamespace(create=self.create))

    def create(self, **kwargs):
        self.requests.append(kwargs)
        if self.error:
            raise self.error
        choice = SimpleNamespace(message=SimpleNamespace(content=self.content), finish_reason=self.finish,
                                 stop_reason=self.stop_reason)
        return SimpleNamespace(choices=[choice], usage=SimpleNamespace(prompt_tokens=5, completion_tokens=3))


def _conv():
    conv = Conversation("S", "<image>\nQ", (b"\x89PNGin",))
    conv.pieces += [Piece("model", "<think>a<code>c</code>"),
                    Piece("sandbox", "<sandbox_output><image></sandbox_output>", images=(b"\x89PNGcrop",))]
    return conv


def test_partial_assistant_message_carries_sandbox_images_in_order():
    messages = chat_messages(_conv())
    assert [p["type"] for p in messages[2]["content"]] == ["text", "image_url", "text"]
    assert messages[2]["content"][2]["text"] == "</sandbox_output>"


def test_continuation_request_and_client_side_stop():
    client = FakeClient("b<code>x</code> tail")
    gen = OpenAIBackend("http://x/v1", "m", client=client).generate(_conv(), Sampling(0.0, max_new_tokens=9),
                                                                    ["</code>"])
    assert gen.text == "b<code>x</code>" and gen.finish_reason == "stop" and gen.completion_tokens == 3
    request = client.requests[0]
    assert request["extra_body"] == {"continue_final_message": True, "add_generation_prompt": False}
    assert request["temperature"] == 0.0 and request["max_tokens"] == 9 and request["stop"] == ["</code>"]


def test_server_dropping_the_stop_string_gets_it_back():
    client = FakeClient("b<code>x", stop_reason="</code>")
    gen = OpenAIBackend("u", "m", client=client).generate(_conv(), Sampling(), ["</code>", "</answer>"])
    assert gen.text == "b<code>x</code>"


def test_errors_end_the_rollout_with_a_reason():
    gen = OpenAIBackend("u", "m", client=FakeClient("", error=TimeoutError("slow"))).generate(_conv(), Sampling(), [])
    assert gen.finish_reason == "error" and gen.error == "TimeoutError: slow"
