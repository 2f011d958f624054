"""Tables, queries, migrations and the embedded PostgreSQL (no GraphQL here)."""
