"""``portalkit._wire.json_converter``: JSON types taken as JSON (the webhook modules' reader)."""

from __future__ import annotations

import attrs
import pytest

from portalkit._wire import json_converter


@attrs.frozen
class Inner:
    flag: bool = False
    count: int = 0


@attrs.frozen
class Outer:
    the_name: str
    inner: Inner = attrs.field(factory=Inner)


@pytest.mark.parametrize("camel_case", [False, True])
def test_json_types_are_read_as_they_are(camel_case: bool) -> None:
    name = "theName" if camel_case else "the_name"
    converter = json_converter(camel_case=camel_case)
    read = converter.structure({name: "a", "inner": {"flag": True, "count": 3}}, Outer)
    assert read == Outer("a", Inner(True, 3))


@pytest.mark.parametrize(
    "inner",
    [{"flag": "false"}, {"flag": 1}, {"count": "17"}, {"count": True}, {"count": 1.5}, "text", [1]],
)
def test_anything_else_is_refused(inner: object) -> None:
    with pytest.raises(ExceptionGroup) as caught:  # cattrs' ClassValidationError
        json_converter().structure({"the_name": "a", "inner": inner}, Outer)
    leaves = caught.value.exceptions
    while any(isinstance(leaf, ExceptionGroup) for leaf in leaves):
        leaves = tuple(sub for leaf in leaves for sub in getattr(leaf, "exceptions", (leaf,)))
    assert {type(leaf) for leaf in leaves} == {TypeError}
    assert any(str(leaf).startswith("expected") for leaf in leaves)


def test_a_top_level_value_that_is_not_an_object_is_refused() -> None:
    for value in ("the_name", ["the_name"], 3):
        with pytest.raises(TypeError, match="expected an object"):
            json_converter().structure(value, Inner)
