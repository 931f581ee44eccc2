"""Everything a model is shown, in one place: the Thyme system prompt and user template (thyme.md §2.3), the
no-tool prompt of the difficulty filter and the "without tools" evaluation, and the LLM judge's two prompts.

The teacher, the importer, the trainer and the evaluators all take their texts from here, so a change of
wording is one diff, and the CHANGELOG ties it to the data it changes (the prompts are part of every
trajectory).
"""

from __future__ import annotations

__all__ = [
    "CONSISTENCY_PROMPT",
    "CORRECTNESS_PROMPT",
    "NO_TOOL_SUFFIX",
    "NO_TOOL_SYSTEM",
    "SYSTEM_PROMPT",
    "USER_TEMPLATE",
]

# The policy's system prompt with tools (the original's, verbatim).
SYSTEM_PROMPT = (
    "You are a helpful assistant.\n\n"
    "Solve the following problem step by step, and optionally write Python code for image manipulation to "
    "enhance your reasoning process. The Python code will be executed by an external sandbox, and the "
    "processed image or result (wrapped in <sandbox_output></sandbox_output>) can be returned to aid your "
    "reasoning and help you arrive at the final answer.\n\n"
    "**Reasoning & Image Manipulation (Optional but Encouraged):**\n"
    "    * You have the capability to write executable Python code to perform image manipulations (e.g., "
    "cropping to a Region of Interest (ROI), resizing, rotation, adjusting contrast) or perform calculation "
    "for better reasoning.\n"
    "    * The code will be executed in a secure sandbox, and its output will be provided back to you for "
    "further analysis.\n"
    "    * All Python code snippets **must** be wrapped as follows:\n"
    "    <code>\n"
    "    ```python\n"
    "    # your code.\n"
    "    ```\n"
    "    </code>\n"
    "    * At the end of the code, print the path of the processed image (processed_path) or the result for "
    "further processing in a sandbox environment."
)

# The user turn: the question, the input image's path and size in the sandbox, and the output format.
USER_TEMPLATE = (
    '<image>\n{question}\n\n### User Image Path:** "{path}"\n### User Image Size:** "{size}"\n\n'
    "### **Output Format (strict adherence required):**\n\n"
    "<think>Your detailed reasoning process, including any code, should go here.</think>\n"
    "<answer>Your final answer to the user's question goes here.</answer>\n"
)

# The direct-answer conversation: no tools, no code, one call (like the original's no-tool fallback).
NO_TOOL_SYSTEM = "You are a helpful assistant."
NO_TOOL_SUFFIX = "\nAnswer with the final answer only, inside <answer></answer>."

# The LLM judge (the original's protocol): correctness of a free-form answer, consistency of reasoning and
# answer.
CORRECTNESS_PROMPT = (
    "You are an expert grader. Decide whether the generated answer to the question is correct, using the "
    "reference answer as ground truth. Ignore differences of wording, case, punctuation and format that do "
    "not change the meaning.\n\n"
    "Question: {question}\nGenerated answer: {predicted}\nReference answer: {truth}\n\n"
    'Reply with JSON only: {{"Correctness": 1}} if the generated answer is correct, '
    'else {{"Correctness": 0}}.'
)
CONSISTENCY_PROMPT = (
    "You are an expert grader. Below are the last part of a solution process and the final answer it gave. "
    "Decide whether the solution process reaches the same conclusion as the final answer.\n\n"
    "Solution process: {reasoning}\nFinal answer: {answer}\n\n"
    'Reply with JSON only: {{"Consistency": 1}} if they agree, else {{"Consistency": 0}}.'
)
