"""Write the student version of every course notebook (nbgrader's format) into ``artifacts/student/``.

Solutions between ``### BEGIN SOLUTION`` / ``### END SOLUTION`` become ``# YOUR CODE HERE`` /
``raise NotImplementedError()``, hidden tests are removed, and every cell carries nbgrader's
metadata (answer cells editable, the rest locked), so the files also import into nbgrader.
Grade what comes back with ``python -m course_utils grade SUBMISSION.ipynb``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
from course_utils import grading  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO_ROOT / "artifacts" / "student"))
    parser.add_argument("--only", nargs="*", help="notebook names, e.g. 00_setup")
    parser.add_argument("--notebooks-dir", default=str(grading.NOTEBOOKS_DIR), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        rows = grading.write_student_versions(Path(args.out), Path(args.notebooks_dir), args.only)
    except grading.GradingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print("| notebook | exercises | points |\n|---|---|---:|")
    for row in rows:
        print(f"| {row['notebook']} | {', '.join(row['exercises']) or '-'} | {row['points']:g} |")
    print(f"\n{len(rows)} student notebook(s) -> {Path(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
