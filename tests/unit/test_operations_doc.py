"""docs/operations.md documents every setting an operator can set."""

from __future__ import annotations

from pathlib import Path

from marque.config import Settings

OPERATIONS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def test_operations_doc_has_a_row_for_every_setting() -> None:
    text = OPERATIONS.read_text(encoding="utf-8")
    rows = {
        line.split("|")[1].strip().strip("`")
        for line in text.splitlines()
        if line.startswith("| `MARQUE_")
    }

    missing = {
        name: field
        for name, field in Settings.model_fields.items()
        if f"MARQUE_{name.upper()}" not in rows
    }

    paste = "\n".join(
        f"| `MARQUE_{name.upper()}` | `{getattr(field.default, 'value', field.default)}` "
        f"| {field.description} |"
        for name, field in missing.items()
    )
    assert not missing, f"docs/operations.md lacks settings; add these rows:\n{paste}"
    known = {f"MARQUE_{name.upper()}" for name in Settings.model_fields}
    assert rows <= known, f"docs/operations.md documents settings that do not exist: {rows - known}"


def test_every_setting_explains_itself() -> None:
    undocumented = [name for name, field in Settings.model_fields.items() if not field.description]

    assert not undocumented, f"give these Settings fields a description: {undocumented}"
