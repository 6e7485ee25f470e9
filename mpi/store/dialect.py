"""DuckDB's SQL, as the gateways write it, translated for PostgreSQL (``sqlglot``), once per statement.

The gateways hold one copy of each statement, in DuckDB's dialect. On a
PostgreSQL store each is translated by sqlglot (``read="duckdb",
write="postgres"``) the first time it runs and the translation kept, with three
steps of our own where sqlglot leaves DuckDB's words in place:

- ``GROUP BY ALL`` becomes a grouping by every selected expression that is not
  an aggregate, and ``ORDER BY ALL`` an ordering by every selected column;
- a subquery in FROM is given the alias PostgreSQL requires;
- a ``%`` in a string literal is doubled (psycopg reads ``%`` as a parameter
  mark; ``?`` marks become its ``%s``);
- DuckDB's JSON columns are text (as DuckDB holds them: inserting a string
  needs no cast), read through ``CAST(... AS JSON)`` by the JSON functions;
  a list of structs (the access log's entities) is held as JSONB.

Functions sqlglot passes through unchanged (``epoch_us``, ``arg_max``,
``list_position``, ``starts_with``) exist on PostgreSQL as the small
:data:`COMPAT_FUNCTIONS` each store database is given before its migrations,
with DuckDB's meaning. A statement neither can carry is written portably in its
gateway (SQL both engines accept), never kept in two copies.
"""

from __future__ import annotations

import functools

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


@functools.lru_cache(maxsize=4096)
def to_postgres(sql: str) -> str:
    """The PostgreSQL form of one DuckDB statement (cached: the gateways' statements are a few hundred)."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    tree = tree.transform(_portable)
    return tree.sql(dialect="postgres")


def _portable(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Select):
        _expand_all(node)
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


def _expand_all(select: exp.Select) -> None:
    group = select.args.get("group")
    if group is not None and group.args.get("all"):
        keys = [_unaliased(e) for e in select.expressions if not e.find(exp.AggFunc)]
        select.set("group", exp.Group(expressions=keys))
    order = select.args.get("order")
    if order is not None and len(order.expressions) == 1:
        first = order.expressions[0]
        if isinstance(first.this, exp.Var) and first.this.name.upper() == "ALL":
            order.set("expressions", [exp.Ordered(this=exp.Literal.number(i + 1), desc=first.args.get("desc"))
                                      for i in range(len(select.expressions))])


def _unaliased(e: exp.Expression) -> exp.Expression:
    return (e.this if isinstance(e, exp.Alias) else e).copy()
