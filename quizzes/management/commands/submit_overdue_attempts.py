from django.core.management.base import BaseCommand

from quizzes.timed_attempts import attempts_submit_overdue


class Command(BaseCommand):
    help = (
        "Submit every timed attempt whose time is up with the answers saved by then (run it "
        "from cron; resync_tutorial_marks also does it first)."
    )

    def handle(self, *args, **options):
        submitted = attempts_submit_overdue()
        style = self.style.SUCCESS if submitted else self.style.NOTICE
        self.stdout.write(
            style(
                f"{submitted} timed attempt{'s' if submitted != 1 else ''} whose time was up "
                "submitted with their saved answers."
            )
        )
