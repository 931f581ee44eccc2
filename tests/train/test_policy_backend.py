"""The local policy backend: ATS makes code deterministic (both variants), stops on text, logprobs match
training, greedy calls are reused exactly."""

from dataclasses import replace

from synthesis.agent import Conversation, Piece, Sampling, run_agent
from train.chat import conversation_chunks, encode
from train.data import prompt_from_row
from train.policy_backend import LocalBackend, cut_at_stop
from train.rollouts import ats_agent_config
from train.sft import collate, token_logprobs

OPEN = "<think>I will crop the region.<code>"


class _NoSandbox:
    def run(self, code):  # never reached: the tests stop before a block completes
        raise AssertionError("no code should run")


def _conversation(policy, rl_row) -> Conversation:
    conv = prompt_from_row(rl_row).conversation()
    ids = tuple(policy.tokenizer(OPEN, add_special_tokens=False)["input_ids"])
    conv.pieces.append(Piece("model", OPEN, segment="text", token_ids=ids))
    return conv


def _first_code_piece(policy, rl_row, ats: str, seed: int) -> tuple[int, ...]:
    cfg = ats_agent_config(ats, 1.0, 0.0, max_calls=1, max_new_tokens=12, max_total_tokens=64, seed=seed)
    rollout = run_agent(LocalBackend(policy), _NoSandbox(), _conversation(policy, rl_row), cfg)
    piece = rollout.conversation.pieces[1]
    assert piece.segment == ("code" if ats == "segments" else "text")
    return piece.token_ids


def test_ats_segments_make_the_code_block_greedy(policy, rl_rows):
    assert _first_code_piece(policy, rl_rows[0], "segments", 1) == _first_code_piece(
        policy, rl_rows[0], "segments", 2
    )
    assert _first_code_piece(policy, rl_rows[0], "off", 1) != _first_code_piece(policy, rl_rows[0], "off", 2)


def test_logits_processor_variant_is_greedy_inside_open_code(policy, rl_rows):
    conv = _conversation(policy, rl_rows[0])
    runs = [
        LocalBackend(policy, ats_logits=True).generate(conv, Sampling(1.0, max_new_tokens=12, seed=s), [])
        for s in (1, 2)
    ]
    greedy = LocalBackend(policy).generate(conv, Sampling(0.0, max_new_tokens=12), [])
    assert runs[0].token_ids == runs[1].token_ids == greedy.token_ids
    plain = [
        LocalBackend(policy).generate(conv, Sampling(1.0, max_new_tokens=12, seed=s), []) for s in (1, 2)
    ]
    assert plain[0].token_ids != plain[1].token_ids


def test_generation_logprobs_equal_the_training_forward(policy, rl_rows):
    conv = _conversation(policy, rl_rows[0])
    gen = LocalBackend(policy).generate(conv, Sampling(1.0, max_new_tokens=10, seed=3), [])
    conv.pieces.append(Piece("model", gen.text, token_ids=gen.token_ids, logprobs=gen.logprobs))
    enc = encode(conversation_chunks(conv), policy.tokenizer, policy.vision)
    logp = token_logprobs(policy.model.eval(), collate([enc], policy.tokenizer.pad_token_id), "cpu")[0]
    recomputed = logp[-len(gen.token_ids) :].tolist()
    assert all(abs(a - b) < 1e-4 for a, b in zip(recomputed, gen.logprobs, strict=True))
    assert enc.ids[-len(gen.token_ids) :] == list(gen.token_ids)


def test_cut_at_stop_keeps_the_stop_string(policy):
    tok = policy.tokenizer
    ids = tok("ab</code>cd", add_special_tokens=False)["input_ids"]
    cut, found = cut_at_stop(tok, ids, ["</code>"])
    assert found and tok.decode(cut) == "ab</code>"
    assert cut_at_stop(tok, ids, ["</answer>"]) == (ids, False)


def test_image_tokens_are_never_generated(policy, rl_rows):
    backend = LocalBackend(policy)
    gen = backend.generate(
        prompt_from_row(rl_rows[0]).conversation(), Sampling(1.0, max_new_tokens=30, seed=0), []
    )
    assert policy.vision.token_ids["image"] not in gen.token_ids


def test_greedy_calls_are_reused_exactly_until_the_weights_change(policy, rl_rows):
    """Under ATS a group's rollouts reach the same ``<code>`` prefix: the greedy block is generated once and
    reused with the very ids and log-probabilities a fresh call gives; an optimizer step invalidates it."""
    import torch

    cfg = ats_agent_config("segments", 1.0, 0.0, max_calls=1, max_new_tokens=12, max_total_tokens=64)

    def group(backend) -> list[tuple]:
        runs = [
            run_agent(
                backend,
                _NoSandbox(),
                _conversation(policy, rl_rows[0]),
                replace(cfg, text=replace(cfg.text, seed=s)),
            )
            for s in range(4)
        ]
        return [tuple((p.token_ids, p.logprobs) for p in r.conversation.pieces[1:2]) for r in runs]

    policy.model.eval()
    reusing, fresh = LocalBackend(policy), LocalBackend(policy, reuse_greedy=False)
    assert group(reusing) == group(fresh)
    assert reusing.greedy_reused == 3 and fresh.greedy_reused == 0
    conv, greedy = _conversation(policy, rl_rows[0]), Sampling(0.0, max_new_tokens=12)
    before = reusing.generate(conv, greedy, [])
    assert reusing.generate(conv, greedy, []) is before and reusing.greedy_reused == 4
    with torch.no_grad():  # an optimizer step: every later greedy call is generated again
        for p in policy.model.parameters():
            p.mul_(1.5)
    after = reusing.generate(conv, greedy, [])
    assert reusing.greedy_reused == 4 and after.logprobs != before.logprobs
    assert after == LocalBackend(policy, reuse_greedy=False).generate(conv, greedy, [])
