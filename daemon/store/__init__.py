"""Persistence: SQLAlchemy 2 asyncio on SQLite (default) or PostgreSQL, schema by Alembic."""
