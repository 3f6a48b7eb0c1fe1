"""On PostgreSQL, the audit table refuses UPDATE and DELETE: append-only by the database."""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION tracker_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'tracker_auditevent is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER tracker_audit_append_only
    BEFORE UPDATE OR DELETE ON tracker_auditevent
    FOR EACH ROW EXECUTE FUNCTION tracker_audit_append_only();
"""
BACKWARD = """
DROP TRIGGER IF EXISTS tracker_audit_append_only ON tracker_auditevent;
DROP FUNCTION IF EXISTS tracker_audit_append_only();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("tracker", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]
