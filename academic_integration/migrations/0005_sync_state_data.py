from django.db import migrations, models


def forget_courses(apps, schema_editor):
    # Course rows held an instructor email the real Analyzer never sends; what they said
    # about a course is asked again on the next delivery.
    apps.get_model("academic_integration", "SyncState").objects.filter(
        key__startswith="course:"
    ).delete()


def rename_source(apps, schema_editor):
    # "The course's instructor from course-detail" never existed upstream; its rows (if any)
    # are the nearest thing the new chain has: a teacher of the course on the Analyzer.
    for name in ("TutorialMark", "MarkDeliveryLog"):
        model = apps.get_model("academic_integration", name)
        if any(f.name == "teacher_email_source" for f in model._meta.fields):
            model.objects.filter(teacher_email_source="course_instructor").update(
                teacher_email_source="course_teacher"
            )


class Migration(migrations.Migration):
    dependencies = [("academic_integration", "0004_sync_state")]

    operations = [
        migrations.RunPython(forget_courses, migrations.RunPython.noop),
        migrations.RunPython(rename_source, migrations.RunPython.noop),
        migrations.RemoveField(model_name="syncstate", name="instructor_email"),
        migrations.AddField(
            model_name="syncstate",
            name="data",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AlterField(
            model_name="tutorialmark",
            name="teacher_email_source",
            field=models.CharField(
                blank=True,
                choices=[
                    ("quiz_creator", "Quiz creator"),
                    ("course_teacher", "A course teacher the Analyzer lists"),
                    ("session", "Staff email in session"),
                    ("generated", "Generated fallback"),
                ],
                max_length=20,
            ),
        ),
    ]
