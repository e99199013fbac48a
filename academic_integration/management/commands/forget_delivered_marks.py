"""`manage.py forget_delivered_marks`: the Analyzer lost its marks; send them all again."""

from typing import Any

from django.core.management.base import BaseCommand

from academic_integration.requeue import marks_forget_delivered
from academic_integration.resync.summary import plural


class Command(BaseCommand):
    help = (
        "Make every delivered mark due again, as never delivered: for an Analyzer that lost "
        "its marks (restored from an older backup, or the demo's fake, which starts empty). "
        "The next resync sends them again."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        count = marks_forget_delivered()
        self.stdout.write(
            f"{plural(count, 'mark')} the Analyzer had are due again; the next resync sends them."
        )
