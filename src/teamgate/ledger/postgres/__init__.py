"""The PostgreSQL store: asyncpg, migrations, shared by every instance."""
