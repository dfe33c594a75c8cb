"""Keep the tsvector in the chunk's row (compressed) rather than in the TOAST table.

A chunk row is over 2 kB, and the tsvector was moved out of line: ranking a candidate
then cost a TOAST index lookup and fetch. With ``STORAGE MAIN`` PostgreSQL moves the
text columns out first, and the tsvector only as a last resort. Rows take it when next
written (re-indexing rewrites them), and ranking reads the candidates from the heap alone.
"""

from django.db import migrations


def _run(storage):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"ALTER TABLE knowledge_chunk ALTER COLUMN search_vector SET STORAGE {storage}")

    return run


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0002_fulltext_index")]

    operations = [migrations.RunPython(_run("MAIN"), _run("EXTENDED"))]
