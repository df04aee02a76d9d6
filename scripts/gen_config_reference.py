"""Write docs/config-reference.md from the run config schema (`--check`: fail if it is stale).

python scripts/gen_config_reference.py           # rewrite the file
python scripts/gen_config_reference.py --check   # exit 1 if the committed file is out of date
"""

from __future__ import annotations

import sys
from pathlib import Path

from srft.pipeline.reference import render_reference

TARGET = Path(__file__).resolve().parents[1] / "docs" / "config-reference.md"


def main(argv: list[str]) -> int:
    text = render_reference()
    if "--check" in argv:
        if not TARGET.exists() or TARGET.read_text(encoding="utf-8") != text:
            print(f"{TARGET} is out of date: run python scripts/gen_config_reference.py")
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
