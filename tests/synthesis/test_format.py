"""The Thyme protocol: prompts, render/parse round trips, each grammar violation at its position, answers."""

import hashlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthesis import format as fmt
from synthesis.format import Code, SandboxOutput, Text, Trajectory

FAST = settings(max_examples=200, deadline=None)
CODE = "<code>\n```python\nprint(1)\n```\n</code>"  # written out by hand, not with render_code
OK_OUT = "<sandbox_output>1</sandbox_output>"
MARK = "‸"  # marks the expected violation offset inside a case; removed before checking


# --- prompts ------------------------------------------------------------------------------------------------


def test_system_prompt_is_verbatim():
    prompt = fmt.SYSTEM_PROMPT
    assert len(prompt) == 1059 and not prompt.endswith("\n")
    lines = prompt.split("\n")
    assert lines[0] == "You are a helpful assistant." and lines[1] == ""
    assert lines[-1] == (
        "    * At the end of the code, print the path of the processed image (processed_path) or "
        "the result for further processing in a sandbox environment."
    )
    assert lines[-7:-1] == [
        "    * All Python code snippets **must** be wrapped as follows:",
        "    <code>",
        "    ```python",
        "    # your code.",
        "    ```",
        "    </code>",
    ]
    # sha256 of the string cut out of thyme.md §2.2 (1059 characters, no trailing newline)
    assert hashlib.sha256(prompt.encode()).hexdigest() == (
        "c5e7db63596377f9a1afef0dd131d282b2f9e6c873058c056c5c0aa5a89f99a7"
    )


def test_user_prompt_layout_is_exact():
    expected = (
        '<image>\nWhat is shown?\n(A) a\n(B) b\n\n### User Image Path:** "/mnt/data/input/q.png"\n'
        '### User Image Size:** "640x480"\n\n### **Output Format (strict adherence required):**\n\n'
        "<think>Your detailed reasoning process, including any code, should go here.</think>\n"
        "<answer>Your final answer to the user's question goes here.</answer>\n"
    )
    assert (
        fmt.render_user_prompt("What is shown?\n(A) a\n(B) b", "/mnt/data/input/q.png", (640, 480))
        == expected
    )
    unknown = fmt.render_user_prompt("Q", "/x.png", None)
    assert '### User Image Size:** "Unable to determine (error reading image)"\n' in unknown


@FAST
@given(
    question=st.text(),
    path=st.text().filter(lambda p: "\n" not in p),
    size=st.none() | st.tuples(st.integers(0, 10**6), st.integers(0, 10**6)),
)
def test_user_prompt_round_trip(question, path, size):
    text = fmt.render_user_prompt(question, path, size)
    parsed = fmt.parse_user_prompt(text)
    assert parsed == fmt.UserPrompt(question, path, size)
    assert fmt.render_user_prompt(parsed.question, parsed.image_path, parsed.image_size) == text


@pytest.mark.parametrize(
    "text",
    [
        "What?",
        fmt.render_user_prompt("Q", "/a.png", (1, 2)).replace('"1x2"', '"big"'),
        fmt.render_user_prompt("Q", "/a.png", (1, 2))[:-1],  # trailing newline missing
    ],
)
def test_parse_user_prompt_rejects_other_layouts(text):
    with pytest.raises(ValueError):
        fmt.parse_user_prompt(text)


def test_render_user_prompt_rejects_multiline_path():
    with pytest.raises(ValueError, match="one line"):
        fmt.render_user_prompt("Q", "/a\n.png", None)


# --- render / parse -----------------------------------------------------------------------------------------


def test_parse_known_trajectory():
    text = (
        "<think>Crop it." + CODE + "<sandbox_output><image></sandbox_output>Now compute."
        "<code>```python\nx = 6 * 7\nprint(x)\n```</code><sandbox_output>42</sandbox_output>"
        "Done.</think> <answer>42</answer>"
    )
    traj = fmt.parse(text)
    assert traj == Trajectory(
        (
            Text("Crop it."),
            Code("print(1)"),
            SandboxOutput(1),
            Text("Now compute."),
            Code("x = 6 * 7\nprint(x)", "", ""),
            SandboxOutput(0, "42"),
            Text("Done."),
        ),
        " ",
        "42",
    )
    assert fmt.render(traj) == text
    assert fmt.code_blocks(traj) == ["print(1)", "x = 6 * 7\nprint(x)"]
    assert fmt.count_images(traj) == 1


def test_render_code_and_sandbox_output():
    assert fmt.render_code("print(1)") == CODE
    assert fmt.render_sandbox_output(0, "") == "<sandbox_output></sandbox_output>"
    assert fmt.render_sandbox_output(3, "") == "<sandbox_output><image><image><image></sandbox_output>"
    assert (
        fmt.render_sandbox_output(0, "Sandbox for 1: boom")
        == "<sandbox_output>Sandbox for 1: boom</sandbox_output>"
    )
    for images, text in [(1, "x"), (-1, "")]:
        with pytest.raises(ValueError):
            fmt.render_sandbox_output(images, text)


@pytest.mark.parametrize(
    ("segments", "separator"),
    [
        ((Code("x"),), "\n"),  # code without its output
        ((SandboxOutput(1),), "\n"),  # output without code
        ((Code("x"), Text("a"), SandboxOutput(1)), "\n"),  # text between code and output
        ((Text("a"), Text("b")), "\n"),  # adjacent texts do not round-trip
        ((Text(""),), "\n"),
        ((), "  "),
        ((), ""),
    ],
)
def test_trajectory_rejects_bad_structure(segments, separator):
    with pytest.raises(ValueError):
        Trajectory(segments, separator, "1")


# Hypothesis: build valid trajectories piece by piece, then check render -> check/parse -> render.
FRAGMENTS = [
    "<",
    ">",
    "/",
    "think",
    "code",
    "answer",
    "image",
    "sandbox_output",
    "```",
    "```python",
    "\n",
    " ",
    "\t",
    "\\boxed{",
    "{",
    "}",
    "x",
    "é",
    "42",
    "<cod",
    "e>",
    "</",
    "Sandbox for 3: error",
]


def _tag_free(s: str) -> bool:
    return not any(tag in s for tag in fmt.TAGS)


texts = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=4), max_size=8).map("".join).filter(_tag_free)
nonempty_texts = texts.filter(bool)
sources = (
    st.lists(
        st.sampled_from(
            [
                "x = 1",
                "print(x)",
                "img = Image.open(image_path)",
                "    pass",
                "# note",
                'print("```")',
                "",
                "y = {'a': [1, 2]}",
            ]
        )
        | texts,
        min_size=1,
        max_size=6,
    )
    .map("\n".join)
    .filter(lambda s: bool(s.strip()) and _tag_free(s))
)
whitespace = st.text(st.sampled_from(" \n\t\r"), max_size=3)
separators = st.sampled_from([" ", "\n", "\t", "\r", "\x0b", "\x0c", "\u00a0", "\u3000"])
outputs = st.integers(1, 3).map(SandboxOutput) | texts.map(lambda t: SandboxOutput(0, t))
blocks = st.tuples(st.builds(Code, sources, whitespace, whitespace), outputs, st.none() | nonempty_texts)


@st.composite
def trajectories(draw):
    segments = [] if (first := draw(st.none() | nonempty_texts)) is None else [Text(first)]
    for code, output, after in draw(st.lists(blocks, max_size=4)):
        segments += [code, output] + ([] if after is None else [Text(after)])
    answer = draw(nonempty_texts.filter(lambda a: bool(a.strip())))
    return Trajectory(tuple(segments), draw(separators), answer)


@FAST
@given(trajectories())
def test_valid_trajectories_round_trip(traj):
    text = fmt.render(traj)
    assert fmt.check(text) == []
    assert fmt.parse(text) == traj
    assert fmt.render(fmt.parse(text)) == text


def _assert_consistent(text: str) -> None:
    """check never raises, parse fails exactly when check complains, valid text round-trips."""
    violations = fmt.check(text)
    assert all(v.code in fmt.VIOLATION_CODES and 0 <= v.position <= len(text) for v in violations)
    assert [v.position for v in violations] == sorted(v.position for v in violations)
    if violations:
        with pytest.raises(fmt.FormatError) as err:
            fmt.parse(text)
        assert err.value.violations == violations
    else:
        assert fmt.render(fmt.parse(text)) == text


@FAST
@given(st.text() | st.lists(st.sampled_from([*fmt.TAGS, *FRAGMENTS]), max_size=20).map("".join))
def test_check_and_parse_never_crash_on_arbitrary_text(text):
    _assert_consistent(text)


@FAST
@given(
    trajectories(),
    st.lists(
        st.tuples(
            st.sampled_from(["insert", "delete_tag", "delete_span", "repeat"]),
            st.sampled_from(fmt.TAGS),
            st.integers(0, 10**6),
            st.integers(0, 12),
        ),
        min_size=1,
        max_size=3,
    ),
)
def test_check_and_parse_never_crash_on_mutated_trajectories(traj, mutations):
    text = fmt.render(traj)
    for kind, tag, at, length in mutations:
        at %= len(text) + 1
        if kind == "insert":
            text = text[:at] + tag + text[at:]
        elif kind == "delete_tag" and (hits := [m.start() for m in re.finditer(re.escape(tag), text)]):
            start = hits[at % len(hits)]
            text = text[:start] + text[start + len(tag) :]
        elif kind == "delete_span":
            text = text[:at] + text[at + length :]
        elif kind == "repeat":
            text = text[: at + length] + text[at:]
    _assert_consistent(text)


# --- the grammar: one case per violation, with its exact offset (marked by ‸) -------------------------------

MALFORMED = [
    ("format_missing_think_open", "‸Plan.</think>\n<answer>1</answer>"),
    ("format_missing_think_close", "<think>Plan.‸<answer>1</answer>"),
    ("format_missing_answer_open", "<think>Plan.</think>‸\n1</answer>"),
    ("format_missing_answer_close", "<think>Plan.</think>\n<answer>1‸"),
    ("format_duplicate_think_open", "<think>Plan.‸<think>again</think>\n<answer>1</answer>"),
    ("format_duplicate_think_close", "<think>Plan.</think>\n<answer>1‸</think></answer>"),
    ("format_duplicate_answer_open", "<think>Plan.</think>\n<answer>1‸<answer>2</answer>"),
    ("format_text_before_think", "‸Sure! <think>Plan.</think>\n<answer>1</answer>"),
    ("format_tag_order", "<think>Plan.</think>\n‸</answer><answer>1"),
    ("format_text_between_think_and_answer", "<think>Plan.</think>‸ So: <answer>1</answer>"),
    ("format_separator_not_single_whitespace", "<think>Plan.</think>‸\n\n<answer>1</answer>"),
    ("format_separator_not_single_whitespace", "<think>Plan.</think>‸<answer>1</answer>"),
    ("format_empty_answer", "<think>Plan.</think>\n<answer>‸ \n</answer>"),
    ("format_text_after_answer", "<think>Plan.</think>\n<answer>1</answer>‸\n"),
    ("format_tag_outside_think", "<think>Plan.</think>\n<answer>‸<image>1</answer>"),
    ("format_unmatched_code_close", "<think>Plan.‸</code></think>\n<answer>1</answer>"),
    ("format_unmatched_sandbox_output_close", "<think>Plan.‸</sandbox_output></think>\n<answer>1</answer>"),
    ("format_image_outside_sandbox_output", "<think>Look: ‸<image></think>\n<answer>1</answer>"),
    ("format_sandbox_output_without_code", "<think>Plan.‸" + OK_OUT + "</think>\n<answer>1</answer>"),
    (
        "format_code_not_followed_by_sandbox_output",
        "<think>Plan." + CODE + "‸So 1.</think>\n<answer>1</answer>",
    ),
    ("format_code_not_followed_by_sandbox_output", "<think>Plan." + CODE + "‸</think>\n<answer>1</answer>"),
    (
        "format_code_not_followed_by_sandbox_output",
        "<think>Plan." + CODE + "‸ran:" + OK_OUT + "</think>\n<answer>1</answer>",
    ),
    (
        "format_whitespace_before_sandbox_output",
        "<think>Plan." + CODE + "‸\n" + OK_OUT + "</think>\n<answer>1</answer>",
    ),
    (
        "format_nested_tag",
        "<think>Plan.<code>\n```python\nprint('‸<image>')\n```\n</code>"
        + OK_OUT
        + "</think>\n<answer>1</answer>",
    ),
    (
        "format_nested_tag",
        "<think>Plan." + CODE + "<sandbox_output>a‸</code>b</sandbox_output></think>\n<answer>1</answer>",
    ),
    ("format_unclosed_code", "<think>Plan.‸<code>\n```python\nprint(1)\n```\n</think>\n<answer>1</answer>"),
    (
        "format_unclosed_code",
        "<think>Plan.‸<code>\n```python\nprint(1)\n```" + OK_OUT + "</think>\n<answer>1</answer>",
    ),
    (
        "format_unclosed_sandbox_output",
        "<think>Plan." + CODE + "‸<sandbox_output>1</think>\n<answer>1</answer>",
    ),
    (
        "format_empty_code",
        "<think>Plan.<code>\n‸```python\n\n```\n</code>" + OK_OUT + "</think>\n<answer>1</answer>",
    ),
    ("format_empty_code", "<think>Plan.<code>‸</code>" + OK_OUT + "</think>\n<answer>1</answer>"),
    (
        "format_code_without_fence",
        "<think>Plan.<code>\n‸print(1)\n</code>" + OK_OUT + "</think>\n<answer>1</answer>",
    ),
    (
        "format_bad_fence_language",
        "<think>Plan.<code>\n```‸py\nprint(1)\n```\n</code>" + OK_OUT + "</think>\n<answer>1</answer>",
    ),
    (
        "format_bad_fence_language",
        "<think>Plan.<code>```‸python print(1)```</code>" + OK_OUT + "</think>\n<answer>1</answer>",
    ),
    (
        "format_code_missing_closing_fence",
        "<think>Plan.<code>\n```python\nprint(1)\n‸</code>" + OK_OUT + "</think>\n<answer>1</answer>",
    ),
    (
        "format_code_missing_closing_fence",
        "<think>Plan.<code>\n```python\nprint(1)```\n‸</code>" + OK_OUT + "</think>\n<answer>1</answer>",
    ),
    (
        "format_mixed_images_and_text_in_output",
        "<think>Plan." + CODE + "<sandbox_output><image>‸\n<image>"
        "</sandbox_output></think>\n<answer>1</answer>",
    ),
    (
        "format_mixed_images_and_text_in_output",
        "<think>Plan." + CODE + "<sandbox_output>‸saved <image></sandbox_output></think>\n<answer>1</answer>",
    ),
]


@pytest.mark.parametrize(
    ("code", "marked"), MALFORMED, ids=[f"{c}-{i}" for i, (c, _) in enumerate(MALFORMED)]
)
def test_each_violation_is_reported_once_at_its_position(code, marked):
    assert marked.count(MARK) == 1
    position, text = marked.index(MARK), marked.replace(MARK, "")
    assert [(v.code, v.position) for v in fmt.check(text)] == [(code, position)]
    with pytest.raises(fmt.FormatError) as err:
        fmt.parse(text)
    assert [v.code for v in err.value.violations] == [code]


def test_duplicate_answer_close_is_also_text_after_answer():
    valid = "<think>Plan.</think>\n<answer>1</answer>"
    assert [(v.code, v.position) for v in fmt.check(valid + "</answer>")] == [
        ("format_duplicate_answer_close", len(valid)),
        ("format_text_after_answer", len(valid)),
    ]


def test_every_violation_code_has_a_case():
    covered = {code for code, _ in MALFORMED} | {"format_duplicate_answer_close"}
    assert covered == set(fmt.VIOLATION_CODES)


def test_every_violation_is_returned_not_just_the_first():
    text = "Hi <think>a<code>print(1)</code>b<image></think>\n\n<answer> </answer>!"
    assert [(v.code, v.position) for v in fmt.check(text)] == [
        ("format_text_before_think", 0),
        ("format_code_without_fence", text.index("print")),
        ("format_code_not_followed_by_sandbox_output", text.index("b<image>")),
        ("format_image_outside_sandbox_output", text.index("<image>")),
        ("format_separator_not_single_whitespace", text.index("\n\n")),
        ("format_empty_answer", text.index(" </answer>")),
        ("format_text_after_answer", len(text) - 1),
    ]


def test_empty_text_reports_all_four_missing_tags():
    assert [v.code for v in fmt.check("")] == [
        "format_missing_think_open",
        "format_missing_think_close",
        "format_missing_answer_open",
        "format_missing_answer_close",
    ]


def test_violation_line_and_column():
    text = "<think>a</think>\n<answer>1</answer>\nextra"
    (violation,) = fmt.check(text)
    assert violation.describe(text) == "2:19: format_text_after_answer: nothing may follow </answer>"
    assert fmt.line_col(text, 0) == (1, 1) and fmt.line_col(text, len(text)) == (3, 6)


def test_format_error_message_lists_codes():
    with pytest.raises(fmt.FormatError, match="format_missing_think_open at 0"):
        fmt.parse("no tags at all")


def test_valid_edge_cases():
    for text in [
        "<think></think>\n<answer>1</answer>",  # empty think body is allowed
        "<think>a" + CODE + "<sandbox_output></sandbox_output></think>\t<answer>x</answer>",
        "<think>"
        + CODE
        + "<sandbox_output><image><image></sandbox_output>"
        + CODE
        + "<sandbox_output>Sandbox for 7: Code execution failed: boom</sandbox_output></think> "
        + "<answer>B</answer>",
    ]:
        assert fmt.check(text) == []
        assert fmt.render(fmt.parse(text)) == text


# --- images -------------------------------------------------------------------------------------------------


def test_image_slots_map_placeholders_in_order():
    traj = Trajectory(
        (
            Text("a"),
            Code("c1"),
            SandboxOutput(1),
            Code("c2"),
            SandboxOutput(0, "3"),
            Code("c3"),
            SandboxOutput(2),
        ),
        "\n",
        "1",
    )
    text = fmt.render(traj)
    placeholders = [m.start() for m in re.finditer("<image>", text)]
    assert fmt.image_slots(traj, ["orig", "crop1", "crop2", "crop3"]) == list(
        zip(placeholders, ["crop1", "crop2", "crop3"], strict=True)
    )
    assert fmt.image_slots(traj, ["o1", "o2", "c1", "c2", "c3"], input_images=2)[0] == (placeholders[0], "c1")


@pytest.mark.parametrize("images", [["orig"], ["orig", "a", "b"]])
def test_image_slots_reject_count_mismatch(images):
    traj = Trajectory((Code("c"), SandboxOutput(1)), "\n", "1")
    with pytest.raises(fmt.ImageCountError, match="1 <image> placeholders plus 1 input image"):
        fmt.image_slots(traj, images)


# --- answers ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<think>x</think>\n<answer>B</answer>", "B"),
        ("<answer>  42 \n</answer>", "42"),
        ("<answer>The answer is \\boxed{7}.</answer>", "7"),
        ("<answer>\\boxed{\\frac{1}{2}}</answer>", "\\frac{1}{2}"),
        ("<answer>\\boxed{a{b{c}}d}</answer>", "a{b{c}}d"),
        ("<answer>\\boxed{1} or rather \\boxed{ 2 }</answer>", "2"),
        ("<answer>\\boxed{unbalanced</answer>", "\\boxed{unbalanced"),
        ("<answer>first</answer> <answer>second</answer>", "first"),
        ("<answer>\nmulti\nline\n</answer>", "multi\nline"),
        ("<answer></answer>", ""),
        ("<think>no answer here</think>", None),
        ("<answer>never closed", None),
    ],
)
def test_extract_answer(text, expected):
    assert fmt.extract_answer(text) == expected


def test_no_answer_constant():
    assert fmt.NO_ANSWER == "No answer tag found in the final output."
    assert fmt.VIRTUAL_OUTPUT_DIR == "/mnt/data/temp_processed_images/"
    assert fmt.IMAGE_PLACEHOLDER == "<image>"


# --- streaming helpers for the agent loop -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "strict", "expected"),
    [
        ("<think>Crop." + CODE, False, "print(1)"),
        (
            "<think>a" + CODE + OK_OUT + "b<code>\n```python\nx = 2\nprint(x)\n```\n</code>",
            False,
            "x = 2\nprint(x)",
        ),
        (
            "<think>Compute.<code>" + "\n```python\nprint(6 * 7)\n```\n</code>",
            True,
            "print(6 * 7)",
        ),  # ATS halves
        ("<think>a<code>print(1)</code>", False, "print(1)"),
        ("<think>a<code>print(1)</code>", True, None),
        ("<think>a<code>\n```py\nprint(1)\n```\n</code>", False, "print(1)"),
        ("<think>a<code>\n```python\n\n```\n</code>", False, None),
        ("<think>a<code>   </code>", False, None),
        ("<think>just thinking", False, None),
        ("<think>a</code>", False, None),
    ],
)
def test_last_code_block(text, strict, expected):
    assert fmt.last_code_block(text, strict=strict) == expected


def test_ends_with_code_and_has_answer():
    assert fmt.ends_with_code("<think>a" + CODE)
    assert not fmt.ends_with_code("<think>a" + CODE + "\n")
    assert not fmt.ends_with_code("<think>a</code>")
    assert fmt.has_answer("done.</think>\n<answer>1</answer>")
    assert not fmt.has_answer("<think>a" + CODE)


def test_agent_style_message_is_valid():
    """What the agent loop builds: model text, then render_sandbox_output appended, then the rest."""
    message = (
        "<think>Compute it." + CODE + fmt.render_sandbox_output(0, "1") + "So 1.</think>\n<answer>1</answer>"
    )
    assert fmt.check(message) == [] and fmt.extract_answer(message) == "1"
    assert fmt.code_blocks(fmt.parse(message)) == [fmt.last_code_block("<think>Compute it." + CODE)]
