"""Format check: the strict trajectory grammar (``synthesis.format.check``) and the record's image count.

The grammar's own violation codes (``format_missing_answer_close``, ``format_text_after_answer``, ...) are
the reason codes; the first violation by position is reported and the rest are counted in the detail.
"""

from __future__ import annotations

from synthesis import format as fmt
from synthesis.records import SftRecord
from validators.config import FormatCheckConfig
from validators.verdict import Verdict, fail, ok

__all__ = ["check_format"]

CHECK = "format"


def check_format(record: SftRecord, cfg: FormatCheckConfig | None = None) -> Verdict:
    """Format check of a record: grammar, then one ``<image>`` placeholder per produced image.

    Args:
        record (`SftRecord`): the trajectory; ``images[0]`` is the input, the rest are the placeholders'
            images.
        cfg (`FormatCheckConfig`, *optional*): settings (only the enabled flag today).

    Example:
        >>> from synthesis.records import SftRecord
        >>> r = SftRecord(
        ...     id="x",
        ...     images=(b"",),
        ...     question="q",
        ...     image_size=(1, 1),
        ...     response="<think>t</think> <answer>1</answer>tail",
        ...     answer="1",
        ...     answer_type="number",
        ...     family="no_code",
        ... )
        >>> check_format(r).reason
        'format_text_after_answer'
    """
    violations = fmt.check(record.response)
    if violations:
        first = violations[0]
        more = f" (+{len(violations) - 1} more)" if len(violations) > 1 else ""
        return Verdict(CHECK, False, first.code, f"{first.describe(record.response)}{more}"[:300])
    placeholders = fmt.count_images(fmt.parse(record.response))
    if placeholders != len(record.images) - 1:
        return fail(
            CHECK,
            "image_count_mismatch",
            f"{placeholders} <image> placeholders but {len(record.images) - 1} produced images",
        )
    return ok(CHECK)
