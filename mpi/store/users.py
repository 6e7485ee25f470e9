"""The ``users`` table: named callers with a role, their organisation and the hash of their bearer token."""

from __future__ import annotations

from mpi.store.database import Database


class UserTable:
    """Users of one store; the caller behind a token is read on every request, so known tokens are cached."""

    def __init__(self, db: Database):
        self._db = db

    def add(self, name: str, role: str, token_hash: str, organisation: str | None = None) -> None:
        """Create or replace a user (in its own transaction, or joining the caller's)."""
        with self._db.transaction():
            self._db.cached_write("users")
            self._db.execute("DELETE FROM users WHERE name = ?", [name])
            self._db.execute("INSERT INTO users (name, role, token_hash, created_at, organisation) "
                             "VALUES (?, ?, ?, ?, ?)", [name, role, token_hash, self._db.now(), organisation])

    def by_token_hash(self, token_hash: str) -> dict | None:
        """The user holding a token (by its hash). Only known tokens are cached, so guesses cannot fill memory."""
        found = self._db.cache.get(("users", token_hash),
                                   lambda: self._db.one("SELECT name, role, organisation FROM users "
                                                        "WHERE token_hash = ?", [token_hash]),
                                   keep=lambda row: row is not None)
        return {"name": found[0], "role": found[1], "organisation": found[2]} if found else None

    def all(self) -> list[dict]:
        """Every user by name, with role, organisation and when made (never the token's hash)."""
        rows = self._db.query("SELECT name, role, organisation, created_at FROM users ORDER BY name")
        return [{"name": r[0], "role": r[1], "organisation": r[2], "created_at": r[3]} for r in rows]

    def get(self, name: str) -> dict | None:
        """One user by name, as :meth:`all` lists them, or None."""
        return next((u for u in self.all() if u["name"] == name), None)

    def role_of(self, name: str) -> str | None:
        """The role of a user by name, or None if there is no such user."""
        row = self._db.one("SELECT role FROM users WHERE name = ?", [name])
        return row[0] if row else None

    def of_organisation(self, organisation: str, roles: list[str] | None = None) -> list[dict]:
        """The users of an organisation (optionally of some roles), by name."""
        rows = self._db.query("SELECT name, role FROM users WHERE organisation = ? "
                              "AND (? IS NULL OR list_contains(?, role)) ORDER BY name",
                              [organisation, roles, roles])
        return [{"name": r[0], "role": r[1]} for r in rows]
