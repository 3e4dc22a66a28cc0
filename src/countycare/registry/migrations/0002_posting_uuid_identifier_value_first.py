"""Postings get a public UUID (their FHIR PractitionerRole id); identifier uniqueness leads with the number
so a lookup by number alone uses the index."""

import uuid

from django.db import migrations, models


def fill_uuids(apps, schema_editor):
    Posting = apps.get_model("registry", "Posting")
    for pk in Posting.objects.values_list("pk", flat=True).iterator():
        Posting.objects.filter(pk=pk).update(uuid=uuid.uuid4())


class Migration(migrations.Migration):
    dependencies = [("registry", "0001_initial")]

    operations = [
        migrations.AddField(model_name="posting", name="uuid", field=models.UUIDField(null=True, editable=False)),
        migrations.RunPython(fill_uuids, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="posting", name="uuid",
            field=models.UUIDField(default=uuid.uuid4, unique=True, editable=False),
        ),
        migrations.RemoveConstraint(model_name="residentidentifier", name="identifier_unique_value"),
        migrations.AddConstraint(
            model_name="residentidentifier",
            constraint=models.UniqueConstraint(fields=("value", "type"), name="identifier_unique_value"),
        ),
    ]
