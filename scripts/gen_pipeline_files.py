"""Write docs/pipeline-files.md from the file models of srft.files (`--check`: fail if stale).

python scripts/gen_pipeline_files.py           # rewrite the file
python scripts/gen_pipeline_files.py --check   # exit 1 if the committed file is out of date
"""

from __future__ import annotations

import sys
from pathlib import Path

from srft.files.reference import render_pipeline_files

TARGET = Path(__file__).resolve().parents[1] / "docs" / "pipeline-files.md"


def main(argv: list[str]) -> int:
    text = render_pipeline_files()
    if "--check" in argv:
        if not TARGET.exists() or TARGET.read_text(encoding="utf-8") != text:
            print(f"{TARGET} is out of date: run python scripts/gen_pipeline_files.py")
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
