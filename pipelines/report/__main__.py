"""``python -m pipelines.report OUTPUT_DIR [--page-size N]``: (re)write the report of a finished run."""

from __future__ import annotations

import argparse
import sys

from pipelines.report.build import PAGE_SIZE, write_report
from pipelines.run_folder import WITH_REPORT, finishing
from runconfig import storage
from runconfig.storage import location_problem


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.report", description=__doc__)
    parser.add_argument("output_dir", help="a build_sft or build_rl output folder, e.g. out/thyme-sft")
    parser.add_argument("--page-size", type=int, default=PAGE_SIZE, help="records per page file")
    args = parser.parse_args(argv)
    if problem := location_problem(args.output_dir):
        parser.error(f"{args.output_dir!r} {problem}")
    with finishing(args.output_dir, WITH_REPORT) as local:  # the folder, or a local mirror of a store run
        write_report(local, args.page_size)
    sys.stderr.write(f"report: {storage.join(args.output_dir, 'report', 'index.html')}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
