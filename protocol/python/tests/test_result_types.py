"""The TypedDicts of caal_llm_worker.results say what protocol/openrpc.json says: keys, presence, null.

For each result shape: the keys that are always present are the TypedDict's
required keys, the others its optional ones, and a member whose schema allows
null is ``Optional``.  A field added to or changed in the protocol without the
Python types following fails here.
"""

from __future__ import annotations

import json
import types
import typing
import unittest
from pathlib import Path
from typing import Any

from caal_llm_worker import results

OPENRPC = Path(__file__).resolve().parents[2] / "openrpc.json"
PACKAGE = Path(results.__file__).resolve().parent

# TypedDict -> where its schema is, as a path of keys from components.schemas.
SHAPES: dict[str, tuple[str, ...]] = {
    "ChatResult": ("ChatResult",),
    "ToolCall": ("ToolCall",),
    "Usage": ("Usage",),
    "Timing": ("Timing",),
    "StreamDelta": ("StreamDelta",),
    "ToolCallFragment": ("ToolCallFragment",),
    "Configuration": ("Configuration",),
    "Pricing": ("Pricing",),
    "ModelInfo": ("ModelInfo",),
    "ListModelsResult": ("ListModelsResult",),
    "ProbeResult": ("ProbeResult",),
    "ProbeCheck": ("ProbeCheck",),
    "ProbeCheckError": ("ProbeCheckError",),
    "ProbeChecks": ("ProbeResult", "properties", "checks"),
    "ModelsCheck": ("ProbeResult", "properties", "checks", "properties", "models"),
    "StreamCheck": ("ProbeResult", "properties", "checks", "properties", "stream"),
    "ToolsCheck": ("ProbeResult", "properties", "checks", "properties", "tools"),
    "WarmResult": ("WarmResult",),
    "CancelResult": ("CancelResult",),
    "PingResult": ("PingResult",),
    "ShutdownResult": ("ShutdownResult",),
}


def allows_null(schema: dict[str, Any], schemas: dict[str, Any]) -> bool:
    if "$ref" in schema:
        return allows_null(schemas[schema["$ref"].rsplit("/", 1)[1]], schemas)
    kind = schema.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return True
    return any(allows_null(option, schemas) for option in schema.get("oneOf", []) + schema.get("anyOf", []))


def is_optional(hint: Any) -> bool:
    origin = typing.get_origin(hint)
    union_types: tuple[Any, ...] = (typing.Union,)
    if hasattr(types, "UnionType"):
        union_types += (types.UnionType,)
    return origin in union_types and type(None) in typing.get_args(hint)


class ResultTypesTests(unittest.TestCase):
    def test_every_shape_matches_its_schema(self) -> None:
        schemas = json.loads(OPENRPC.read_text())["components"]["schemas"]
        self.assertEqual(sorted(SHAPES), sorted(results.__all__), "every exported TypedDict is checked")
        for name, path in SHAPES.items():
            with self.subTest(name):
                schema: dict[str, Any] = schemas
                for key in path:
                    schema = schema[key]
                shape = getattr(results, name)
                hints = typing.get_type_hints(shape)
                self.assertEqual(sorted(hints), sorted(schema.get("properties", {})), "members")
                self.assertEqual(sorted(shape.__required_keys__), sorted(schema.get("required", [])), "always present")
                for key, member in schema.get("properties", {}).items():
                    nullable = allows_null(member, schemas)
                    self.assertEqual(is_optional(hints[key]), nullable, f"{key}: null allowed is {nullable}")

    def test_the_package_says_it_is_typed(self) -> None:
        self.assertTrue((PACKAGE / "py.typed").is_file())
        pyproject = (PACKAGE.parent / "pyproject.toml").read_text()
        self.assertIn('caal_llm_worker = ["py.typed"]', pyproject)


if __name__ == "__main__":
    unittest.main()
