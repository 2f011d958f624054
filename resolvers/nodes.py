"""Query.node: any global ID, or None when unknown or not the key's to see (R8). Every kind of
node is in the registry (db/readmodel.NODES): where it is read from and which rule of R8 it follows."""

from __future__ import annotations

from db import reads
from db.readmodel import NODES
from db.reads import Record
from resolvers import ids
from resolvers.access import sees
from resolvers.context import Context


async def get_node(ctx: Context, global_id: str) -> tuple[str, Record] | None:
    decoded = ids.decode(global_id)
    if decoded is None:
        return None
    type_name, pk = decoded
    kind = NODES[type_name]
    loader = ctx.loaders.of(type_name)
    if loader is not None:  # the kinds a request may read many of: through its loaders
        record = await loader.load(pk)
    else:
        record = await ctx.read(lambda conn: reads.row(conn, kind.model, pk))
    return (type_name, record) if record is not None and sees(ctx.principal, kind, record) else None
