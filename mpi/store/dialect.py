"""DuckDB's SQL, as the gateways write it, translated for PostgreSQL (``sqlglot``), once per statement.

The gateways hold one copy of each statement, in DuckDB's dialect. On a
PostgreSQL store each is translated by sqlglot (``read="duckdb",
write="postgres"``) the first time it runs and the translation kept, with
steps of our own where sqlglot leaves DuckDB's words in place:

- ``GROUP BY ALL`` becomes a grouping by the position of every selected
  expression that is not an aggregate, and ``ORDER BY ALL`` an ordering by every selected column;
- a subquery in FROM is given the alias PostgreSQL requires;
- a ``%`` in a string literal is doubled (psycopg reads ``%`` as a parameter
  mark; ``?`` marks become its ``%s``);
- DuckDB's JSON columns are text (as DuckDB holds them: inserting a string
  needs no cast), read through ``CAST(... AS JSON)`` by the JSON functions;
  a list of structs (the access log's entities) is held as JSONB;
- ``unnest(from_json(doc, '["VARCHAR"]'))``, the strings of a JSON list as rows,
  is ``json_array_elements_text``.

Functions sqlglot passes through unchanged (``epoch_us``, ``arg_max``,
``list_position``, ``starts_with``) exist on PostgreSQL as the small
:data:`COMPAT_FUNCTIONS` each store database is given before its migrations,
with DuckDB's meaning. A statement neither can carry is written portably in its
gateway (SQL both engines accept), never kept in two copies.
"""

from __future__ import annotations

import functools
import re

import sqlglot
from sqlglot import exp

#: DuckDB functions sqlglot leaves as they are, defined on PostgreSQL with DuckDB's meaning.
COMPAT_FUNCTIONS = [
    """CREATE OR REPLACE FUNCTION epoch_us(t timestamptz) RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE
       AS $$ SELECT (extract(epoch FROM t) * 1000000)::bigint $$""",
    """CREATE OR REPLACE FUNCTION epoch(t timestamptz) RETURNS double precision LANGUAGE sql IMMUTABLE PARALLEL SAFE
       AS $$ SELECT extract(epoch FROM t)::double precision $$""",
    """CREATE OR REPLACE FUNCTION list_position(a anyarray, e anyelement) RETURNS integer LANGUAGE sql IMMUTABLE
       AS $$ SELECT array_position(a, e) $$""",
    # json_extract_string(doc, [paths]) of DuckDB, for paths of one key each ('$.name').
    """CREATE OR REPLACE FUNCTION mpi_json_strings(j json, paths text[]) RETURNS text[] LANGUAGE sql IMMUTABLE
       AS $$ SELECT array_agg(j ->> substr(p, 3) ORDER BY n) FROM unnest(paths) WITH ORDINALITY AS u(p, n) $$""",
    # arg_max(value, key): the value (as text) of the row with the largest key; state is {key, value}.
    """CREATE OR REPLACE FUNCTION mpi_arg_max_step(state text[], value anyelement, key numeric)
       RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
       SELECT CASE WHEN key IS NULL THEN state
                   WHEN state IS NULL OR key > state[1]::numeric THEN ARRAY[key::text, value::text]
                   ELSE state END $$""",
    """CREATE OR REPLACE FUNCTION mpi_arg_max_final(state text[]) RETURNS text LANGUAGE sql IMMUTABLE
       AS $$ SELECT state[2] $$""",
    """CREATE OR REPLACE AGGREGATE arg_max(anyelement, numeric)
       (SFUNC = mpi_arg_max_step, STYPE = text[], FINALFUNC = mpi_arg_max_final)""",
]


#: ``?::TYPE`` (a cast of a bound value), which sqlglot cannot parse after a ``?``: written ``CAST(? AS TYPE)``.
_MARK_CAST = re.compile(r"\?::(\w+(?:\[\])?)")


@functools.lru_cache(maxsize=4096)
def to_postgres(sql: str) -> str:
    """The PostgreSQL form of one DuckDB statement (cached: the gateways' statements are a few hundred)."""
    tree = sqlglot.parse_one(_MARK_CAST.sub(r"CAST(? AS \1)", sql), read="duckdb")
    return _bottom_up(tree).sql(dialect="postgres")


def _bottom_up(node: exp.Expression) -> exp.Expression:
    """Apply :func:`_portable` to every node, children first (a node replaced is then one of portable parts)."""
    for name, value in list(node.args.items()):
        if isinstance(value, exp.Expression):
            node.set(name, _bottom_up(value))
        elif isinstance(value, list):
            node.set(name, [_bottom_up(v) if isinstance(v, exp.Expression) else v for v in value])
    return _portable(node)


def _portable(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Select):
        _expand_all(node)
    elif isinstance(node, exp.ArrayContains) and isinstance(node.this, exp.Transform) \
            and isinstance(node.this.expression, exp.Lambda) and isinstance(node.this.expression.this, exp.Dot):
        # list_contains(list_transform(structs, lambda e: e.field), x): the JSONB list holds {field: x}.
        field = node.this.expression.this.expression.name
        return _jsonb_holds(node.this.this, [(field, node.expression)])
    elif isinstance(node, exp.ArrayContains) and isinstance(node.expression, exp.Struct):
        # list_contains(structs, {'a': x, 'b': y}): the JSONB list holds {a: x, b: y}.
        return _jsonb_holds(node.this, [(p.this.name, p.expression) for p in node.expression.expressions])
    elif isinstance(node, exp.ArrayContains):
        # list_contains(list, x): x = ANY(list). sqlglot's form repeats x (a bound value would be passed twice).
        return exp.EQ(this=node.expression.copy(), expression=exp.Any(this=exp.Paren(this=node.this.copy())))
    elif isinstance(node, exp.Explode) and isinstance(node.this, exp.FromJson) \
            and node.this.expression.name.replace(" ", "").upper() == '["VARCHAR"]':
        # unnest(from_json(doc, '["VARCHAR"]')): a row per string of a JSON list.
        return exp.Anonymous(this="json_array_elements_text", expressions=[exp.cast(node.this.this.copy(), "JSON")])
    elif isinstance(node, exp.JSONExtractScalar) and node.expression.find(exp.JSONPathWildcard):
        # json_extract_string(doc, '$[*]'): the strings of a JSON list.
        return exp.Array(expressions=[exp.select(exp.Anonymous(
            this="json_array_elements_text", expressions=[exp.cast(node.this.copy(), "JSON")])).subquery()])
    elif isinstance(node, exp.Contains):
        # contains(text, part): PostgreSQL's strpos.
        return exp.GT(this=exp.Anonymous(this="strpos", expressions=[node.this.copy(), node.expression.copy()]),
                      expression=exp.Literal.number(0))
    elif isinstance(node, exp.Column) and not node.table and node.name.lower() == "rowid" \
            and not node.this.quoted:
        # DuckDB's rowid is PostgreSQL's ctid: the row's place, good until the row is updated.
        return exp.column("ctid")
    elif isinstance(node, exp.Subquery) and not node.alias and isinstance(node.parent, (exp.From, exp.Join)):
        node.set("alias", exp.TableAlias(this=exp.to_identifier(f"mpi_sub_{id(node) % 100_000}")))
    elif isinstance(node, exp.Literal) and node.is_string and "%" in node.this:
        return exp.Literal.string(node.this.replace("%", "%%"))
    elif isinstance(node, exp.DataType) and node.is_type(exp.DataType.Type.ARRAY) and node.expressions \
            and node.expressions[0].is_type(exp.DataType.Type.STRUCT):
        return exp.DataType.build("JSONB")
    elif isinstance(node, exp.DataType) and node.is_type(exp.DataType.Type.JSON) \
            and isinstance(node.parent, exp.ColumnDef):
        return exp.DataType.build("TEXT")
    elif isinstance(node, exp.JSONExtractScalar) and isinstance(node.expression, exp.Array):
        # DuckDB's json_extract_string(doc, [paths]): the list of strings at the paths, the doc parsed once.
        return exp.Anonymous(this="mpi_json_strings", expressions=[exp.cast(node.this.copy(), "JSON"),
                                                                   node.expression.copy()])
    elif isinstance(node, (exp.JSONExtract, exp.JSONExtractScalar)) and not isinstance(node.this, exp.Cast):
        node.set("this", exp.cast(node.this.copy(), "JSON"))
    return node


def _jsonb_holds(column: exp.Expression, fields: list[tuple[str, exp.Expression]]) -> exp.Expression:
    pairs = [e for name, value in fields for e in (exp.Literal.string(name), exp.cast(value.copy(), "TEXT"))]
    wanted = exp.Anonymous(this="jsonb_build_array", expressions=[exp.Anonymous(this="jsonb_build_object",
                                                                                expressions=pairs)])
    return exp.ArrayContainsAll(this=column.copy(), expression=wanted)


def _expand_all(select: exp.Select) -> None:
    group = select.args.get("group")
    if group is not None and group.args.get("all"):
        # By position: an expression repeated would repeat its bound values (and their parameter marks).
        keys = [exp.Literal.number(i + 1) for i, e in enumerate(select.expressions) if not e.find(exp.AggFunc)]
        select.set("group", exp.Group(expressions=keys))
    order = select.args.get("order")
    if order is not None and len(order.expressions) == 1:
        first = order.expressions[0]
        if isinstance(first.this, exp.Var) and first.this.name.upper() == "ALL" \
                and any(isinstance(e, exp.Star) for e in select.expressions):
            # SELECT * ... ORDER BY ALL: by the whole row (PostgreSQL orders a table's rows as records).
            table = select.args["from_"].this
            order.set("expressions", [exp.Ordered(this=exp.column(table.alias_or_name))])
        elif isinstance(first.this, exp.Var) and first.this.name.upper() == "ALL":
            order.set("expressions", [exp.Ordered(this=exp.Literal.number(i + 1), desc=first.args.get("desc"))
                                      for i in range(len(select.expressions))])


