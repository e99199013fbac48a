"""Courses: every quiz's course id becomes a Course, owned by its teachers.

Each distinct course id of an existing quiz becomes a Course whose teachers are the creators
of its quizzes and whose students are everyone with an attempt on them. Marks are not touched
(their course id stays the same string): nothing is re-sent. A practice quiz's empty course
id becomes NULL.
"""

import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def courses_from_quizzes(apps, schema_editor):
    Quiz = apps.get_model("quizzes", "Quiz")
    Course = apps.get_model("quizzes", "Course")
    QuizAttempt = apps.get_model("quizzes", "QuizAttempt")
    TutorialMark = apps.get_model("academic_integration", "TutorialMark")
    Quiz.objects.filter(course_id="").update(course_id=None)
    ids = set(Quiz.objects.exclude(course_id=None).values_list("course_id", flat=True))
    ids |= set(TutorialMark.objects.values_list("course_id", flat=True))
    Course.objects.bulk_create([Course(id=course_id) for course_id in sorted(ids)])
    teachers = set(
        Quiz.objects.exclude(course_id=None).values_list("course_id", "created_by_id").distinct()
    )
    teachers |= set(TutorialMark.objects.values_list("course_id", "quiz__created_by_id").distinct())
    Course.teachers.through.objects.bulk_create(
        [Course.teachers.through(course_id=c, user_id=u) for c, u in sorted(teachers)]
    )
    students = set(
        QuizAttempt.objects.exclude(quiz__course_id=None)
        .values_list("quiz__course_id", "student_id")
        .distinct()
    )
    students |= set(TutorialMark.objects.values_list("course_id", "student_id").distinct())
    Course.students.through.objects.bulk_create(
        [Course.students.through(course_id=c, user_id=u) for c, u in sorted(students)],
        batch_size=1000,
    )


def courses_back_to_strings(apps, schema_editor):
    Quiz = apps.get_model("quizzes", "Quiz")
    Quiz.objects.filter(course_id=None).update(course_id="")


class Migration(migrations.Migration):
    dependencies = [
        ("quizzes", "0002_tutorial_quiz_needs_number"),
        ("academic_integration", "0003_mark_failing_since_unsettled_until"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Course",
            fields=[
                (
                    "id",
                    models.CharField(
                        max_length=20,
                        primary_key=True,
                        serialize=False,
                        validators=[
                            django.core.validators.RegexValidator(
                                "^[A-Z0-9]{2,20}$",
                                "A course id is 2–20 capital letters or digits, e.g. 19XW51.",
                            )
                        ],
                        verbose_name="course id",
                    ),
                ),
                ("name", models.CharField(blank=True, max_length=200)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "students",
                    models.ManyToManyField(
                        blank=True, related_name="courses_enrolled", to=settings.AUTH_USER_MODEL
                    ),
                ),
                (
                    "teachers",
                    models.ManyToManyField(
                        blank=True, related_name="courses_taught", to=settings.AUTH_USER_MODEL
                    ),
                ),
            ],
            options={"ordering": ["id"]},
        ),
        migrations.RemoveConstraint(model_name="quiz", name="quiz_tutorial_has_course_and_slot"),
        migrations.RemoveConstraint(model_name="quiz", name="quiz_unique_published_tutorial_slot"),
        migrations.AlterField(
            model_name="quiz",
            name="course_id",
            field=models.CharField(max_length=20, null=True, blank=True, default=None),
        ),
        migrations.RunPython(courses_from_quizzes, courses_back_to_strings),
        migrations.RenameField(model_name="quiz", old_name="course_id", new_name="course"),
        migrations.AlterField(
            model_name="quiz",
            name="course",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="quizzes",
                to="quizzes.course",
            ),
        ),
        migrations.AddConstraint(
            model_name="quiz",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("quiz_type", "practice"),
                    models.Q(
                        ("quiz_type", "tutorial"),
                        ("course__isnull", False),
                        ("tutorial_number__isnull", False),
                        ("tutorial_number__gte", 1),
                        ("tutorial_number__lte", 4),
                    ),
                    _connector="OR",
                ),
                name="quiz_tutorial_has_course_and_slot",
                violation_error_message="A tutorial quiz needs a course id and a tutorial number 1–4.",
            ),
        ),
        migrations.AddConstraint(
            model_name="quiz",
            constraint=models.UniqueConstraint(
                condition=models.Q(("is_published", True), ("quiz_type", "tutorial")),
                fields=("course", "tutorial_number"),
                name="quiz_unique_published_tutorial_slot",
                violation_error_message="Another published tutorial quiz already sets this course's tutorial mark.",
            ),
        ),
    ]
