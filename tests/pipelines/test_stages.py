"""A stage's results and dead letters account for every input: rejections and exceptions alike."""

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to

from pipelines.stages import RunStage, reject


class _Judge(beam.DoFn):
    def process(self, element):
        if element["n"] % 3 == 0:
            raise ValueError(f"cannot handle {element['n']}")
        if element["n"] % 3 == 1:
            yield reject(element["id"], "judge", "judge_odd", f"{element['n']} is unwanted", element)
            return
        yield element["n"]


def test_every_input_leaves_as_result_or_dead_letter():
    items = [{"id": f"r{n}", "n": n} for n in range(10)]
    with beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner"])) as p:
        ok, dead = p | beam.Create(items) | RunStage("judge", _Judge())
        assert_that(ok, equal_to([2, 5, 8]), label="Results")
        letters = dead | beam.Map(
            lambda d: (
                d.id,
                d.stage,
                d.reason,
                d.payload["n"] if "n" in d.payload else d.payload["input"]["n"],
            )
        )
        expected = [
            (f"r{n}", "judge", "exception_ValueError" if n % 3 == 0 else "judge_odd", n)
            for n in range(10)
            if n % 3 != 2
        ]
        assert_that(letters, equal_to(expected), label="DeadLetters")


def test_exception_letter_keeps_detail_and_traceback():
    with beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner"])) as p:
        _, dead = p | beam.Create([{"id": "x", "n": 3}]) | RunStage("judge", _Judge())
        details = dead | beam.Map(lambda d: (d.detail, "cannot handle 3" in d.payload["traceback"]))
        assert_that(details, equal_to([("ValueError('cannot handle 3')", True)]))
