"""Write derive.Rule (the kinds of step, derive/model.py) into the JSON schema's enum of rule names.

    PYTHONPATH=. python scripts/schema.py          # rewrite derive/schema/derivation.schema.json
    PYTHONPATH=. python scripts/schema.py --check  # exit 1 when the schema is out of step

tests/test_json.py fails while the schema's enum and derive.Rule differ."""
from __future__ import annotations

import json
import re
import sys
import textwrap
from pathlib import Path

import derive

PATH = Path(derive.__file__).parent / "schema" / "derivation.schema.json"
_ENUM = re.compile(r'("rule": \{"enum": )\[[^\]]*\]')


def listed(text: str) -> list:
    """The rule names the schema's enum lists."""
    return json.loads(text)["$defs"]["step"]["properties"]["rule"]["enum"]


def written(text: str) -> str:
    """``text`` (the schema) with its enum of rule names set to derive.Rule's values, in their order."""
    names = ", ".join(json.dumps(r.value) for r in derive.Rule)
    indent = " " * 26
    body = "\n".join(textwrap.wrap(names, 120 - len(indent), initial_indent="", subsequent_indent=indent))
    new, count = _ENUM.subn(lambda m: m.group(1) + "[" + body + "]", text)
    if count != 1:
        raise SystemExit(f"{PATH}: expected one \"rule\" enum, found {count}")
    json.loads(new)
    return new


if __name__ == "__main__":
    text = PATH.read_text()
    if "--check" in sys.argv[1:]:
        sys.exit(0 if listed(text) == [r.value for r in derive.Rule] else 1)
    if listed(text) != [r.value for r in derive.Rule]:  # rewritten only when out of step
        PATH.write_text(written(text))
