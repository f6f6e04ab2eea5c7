"""Generate ``docs/scenario_reference.md`` from the schema the loader validates with.

``python -m hierarchy.docs`` rewrites the file; ``python -m hierarchy.docs
--check`` exits 1 if the committed file differs from what the code gives.
Every key of :func:`hierarchy.scenario.scenario_json_schema` and every
parameter of every registered policy (``defaults`` of its class) gets a row
with its type, unit, default and meaning (:mod:`hierarchy.docs.rows`); a
key that has neither a description in the schema nor an entry in
:data:`MEANINGS` (:mod:`hierarchy.docs.meanings`) stops the generator, so
that a new key cannot go undocumented. :mod:`hierarchy.docs.reference`
writes the rows as Markdown.

Examples
--------
>>> rows = schema_rows()
>>> [r for r in rows if r.path == "grid.f0_hz"][0].default
'50'
"""
from __future__ import annotations

from hierarchy.docs.meanings import MEANINGS, PARAM_MEANINGS
from hierarchy.docs.reference import REFERENCE_PATH, main, reference_markdown
from hierarchy.docs.rows import Row, policy_rows, schema_rows

__all__ = ["Row", "schema_rows", "policy_rows", "reference_markdown", "main", "MEANINGS",
           "PARAM_MEANINGS", "REFERENCE_PATH"]
