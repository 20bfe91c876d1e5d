"""Failed constraints as domain errors: a duplicate (409) or a dangling reference (400).

So that no integrity error reaches a client as a 500.
"""

from __future__ import annotations

import re

from sqlalchemy.exc import IntegrityError

from igny8d.store.errors import ForeignKeyViolation, UniqueViolation
from igny8d.store.specs import TableSpec

_FK_COLUMN = re.compile(r"key \((\w+)\)=\(([^)]*)\) is not present")


def conflict(spec: TableSpec, exc: IntegrityError) -> Exception:
    """Name the duplicate field when the constraint is a known unique one; a reference to
    a row that does not exist is a field error (400), never a 500."""
    text = str(exc.orig).lower()
    if "foreign key" in text:
        found = _FK_COLUMN.search(text)
        if found:
            return ForeignKeyViolation(errors={found.group(1): [
                f'Invalid pk "{found.group(2)}" - object does not exist.']})
        return ForeignKeyViolation(errors={"non_field_errors": [
            "A referenced object does not exist."]})
    for cols, field, message in spec.unique:
        name = f"uq_{spec.table.name}_{'_'.join(cols)}"
        joined = ", ".join(f"{spec.table.name}.{c}" for c in cols)
        if name in text or joined in text:
            return UniqueViolation({field: [message]})
    if "unique" in text or "duplicate" in text:
        return UniqueViolation({"non_field_errors": [f"This {spec.label.lower()} already exists."]})
    return exc
