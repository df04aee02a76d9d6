"""Write the generated docs (`--check`: exit 1 if a committed one is out of date).

python scripts/gen_docs.py           # rewrite docs/config-reference.md and docs/pipeline-files.md
python scripts/gen_docs.py --check   # exit 1 if either committed file is out of date

Both are rendered from the code they document, so they cannot drift from it: the run config's
schema (`srft.pipeline.reference`) and the models of the files between the stages
(`srft.files.reference`). Tests fail when either is stale.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from srft.files.reference import render_pipeline_files
from srft.pipeline.reference import render_reference

DOCS = Path(__file__).resolve().parents[1] / "docs"
GENERATED: dict[Path, Callable[[], str]] = {
    DOCS / "config-reference.md": render_reference,
    DOCS / "pipeline-files.md": render_pipeline_files,
}


def main(argv: list[str]) -> int:
    stale = 0
    for target, render in GENERATED.items():
        text = render()
        if "--check" in argv:
            if not target.exists() or target.read_text(encoding="utf-8") != text:
                print(f"{target} is out of date: run python scripts/gen_docs.py")
                stale += 1
            continue
        target.write_text(text, encoding="utf-8")
        print(f"wrote {target}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
