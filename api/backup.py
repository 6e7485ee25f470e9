"""``POST /v1/admin/backup``: a consistent copy of the store while the service runs, for an admin.

While the service runs it holds the DuckDB file, so only it can copy the store:
one read transaction (``Store.snapshot``) writes the copy to a temporary file,
which is streamed back and then removed. Writes go on meanwhile; the copy holds
every write committed before it began and nothing of one committed after.
``mpi restore --input FILE`` puts the file back (with the service stopped).
"""

from __future__ import annotations

import contextlib
import logging

from flask import Response, current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import actor, require_role
from mpi.vocab import Role

logger = logging.getLogger(__name__)

blp = Blueprint("backup", __name__, url_prefix="/v1", description="Backups of the store (admin)")

#: Bytes read from the copy per chunk of the response.
CHUNK = 1 << 20


@blp.route("/admin/backup")
class Backup(MethodView):
    @blp.doc(responses={"200": {
        "description": "the store as one DuckDB file (`mpi restore --input FILE` puts it back); its schema "
                       "version in the `X-MPI-Schema-Version` header",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        "headers": {"X-MPI-Schema-Version": {"description": "the schema version of the store copied",
                                             "schema": {"type": "integer"}}},
    }})
    @blp.alt_response(401, schema="Error", description="no known caller")
    @blp.alt_response(403, schema="Error", description="the caller is not an admin")
    def post(self):
        """A consistent copy of the whole store, taken while writes go on (admin)."""
        require_role(Role.ADMIN)
        store = current_app.extensions["mpi"].store
        who = actor()
        cleanup = contextlib.ExitStack()
        try:
            path = cleanup.enter_context(store.snapshot())
            f = cleanup.enter_context(path.open("rb"))
            size = path.stat().st_size
        except BaseException:
            cleanup.close()
            raise
        logger.info("store backup of %s bytes taken by %s", size, who)

        def chunks():
            while data := f.read(CHUNK):
                yield data

        stamp = store.db.now().strftime("%Y%m%dT%H%M%SZ")
        response = Response(chunks(), mimetype="application/octet-stream", headers={
            "Content-Length": str(size), "X-MPI-Schema-Version": str(store.schema_version()),
            "Content-Disposition": f'attachment; filename="mpi-backup-{stamp}.duckdb"',
        })
        response.call_on_close(cleanup.close)  # the copy is removed once sent, or once the client has gone
        return response
