"""Business rules: plain async functions `(conn, actor, input) -> data`, no Tornado."""
