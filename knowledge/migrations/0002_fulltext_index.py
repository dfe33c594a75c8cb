"""The full-text index, kept by the database.

PostgreSQL: a generated tsvector column over the analysed terms with a GIN index
(``simple`` configuration: stemming already happened in Python, see knowledge.analysis).
SQLite: an FTS5 table (rowid = chunk id) with a per-tenant key column so a query only
touches its tenant's rows, kept in step with knowledge_chunk by triggers.
"""

from django.db import migrations

PG_FORWARD = [
    "ALTER TABLE knowledge_chunk ADD COLUMN search_vector tsvector "
    "GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, search_text)) STORED",
    "CREATE INDEX knowledge_chunk_search_gin ON knowledge_chunk USING GIN (search_vector)",
]
PG_BACKWARD = [
    "DROP INDEX IF EXISTS knowledge_chunk_search_gin",
    "ALTER TABLE knowledge_chunk DROP COLUMN IF EXISTS search_vector",
]

SQLITE_FORWARD = [
    "CREATE VIRTUAL TABLE knowledge_chunk_fts USING fts5("
    "search_text, tenant_key, tokenize='unicode61 remove_diacritics 0')",
    "CREATE TRIGGER knowledge_chunk_fts_ai AFTER INSERT ON knowledge_chunk BEGIN "
    "INSERT INTO knowledge_chunk_fts(rowid, search_text, tenant_key) "
    "VALUES (new.id, new.search_text, 't' || hex(new.tenant_id)); END",
    "CREATE TRIGGER knowledge_chunk_fts_ad AFTER DELETE ON knowledge_chunk BEGIN "
    "DELETE FROM knowledge_chunk_fts WHERE rowid = old.id; END",
    "CREATE TRIGGER knowledge_chunk_fts_au AFTER UPDATE OF search_text ON knowledge_chunk BEGIN "
    "UPDATE knowledge_chunk_fts SET search_text = new.search_text WHERE rowid = new.id; END",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS knowledge_chunk_fts_au",
    "DROP TRIGGER IF EXISTS knowledge_chunk_fts_ad",
    "DROP TRIGGER IF EXISTS knowledge_chunk_fts_ai",
    "DROP TABLE IF EXISTS knowledge_chunk_fts",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for sql in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": PG_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": PG_BACKWARD, "sqlite": SQLITE_BACKWARD}),
        )
    ]
