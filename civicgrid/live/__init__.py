"""Live updates: the journal of committed changes (``journal``), the feed that brings them
into each server process (``feed``: PostgreSQL LISTEN/NOTIFY, or reading the journal on
SQLite), the hub that hands each change to the connections whose scope sees it (``hub``),
and the Server-Sent Events route ``GET /live/events`` (``routes``). See docs/live.md."""
