"""Every type, field, argument, input field and enum value of the public schema has a description:
GraphiQL's docs pane is what partners read first."""

from __future__ import annotations

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    build_schema,
)

from schema import schema

STANDARD_SCALARS = {"String", "Int", "Float", "Boolean", "ID"}


def undescribed(sdl: str) -> list[str]:
    """The coordinates (`Type`, `Type.field`, `Type.field(arg:)`, `Enum.VALUE`) without a non-blank description."""
    missing: list[str] = []

    def check(coordinate: str, description: str | None) -> None:
        if not (description or "").strip():
            missing.append(coordinate)

    for name, named in sorted(build_schema(sdl).type_map.items()):
        if name.startswith("__") or name in STANDARD_SCALARS:
            continue
        check(name, named.description)
        if isinstance(named, (GraphQLObjectType, GraphQLInterfaceType)):
            for field_name, field in named.fields.items():
                check(f"{name}.{field_name}", field.description)
                for arg_name, arg in field.args.items():
                    check(f"{name}.{field_name}({arg_name}:)", arg.description)
        elif isinstance(named, GraphQLInputObjectType):
            for field_name, input_field in named.fields.items():
                check(f"{name}.{field_name}", input_field.description)
        elif isinstance(named, GraphQLEnumType):
            for value_name, value in named.values.items():
                check(f"{name}.{value_name}", value.description)
    return missing


def test_every_type_field_argument_and_enum_value_of_the_schema_has_a_description() -> None:
    missing = undescribed(schema.as_str())
    assert missing == [], f"{len(missing)} schema elements without a description:\n" + "\n".join(missing)


def test_the_description_check_sees_a_missing_one() -> None:
    sdl = '"""A thing."""\ntype Query {\n  """Described."""\n  a(x: Int): Int\n  b: Int\n}\n'
    assert undescribed(sdl) == ["Query.a(x:)", "Query.b"]
