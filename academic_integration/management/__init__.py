"""What the sync commands share: an epilog shown as written, and plain exit codes."""

import argparse
import sys
from typing import Any

from django.core.management.base import (
    BaseCommand,
    CommandError,
    CommandParser,
    DjangoHelpFormatter,
)


class _HelpFormatter(DjangoHelpFormatter, argparse.RawDescriptionHelpFormatter):
    pass


class SyncCommand(BaseCommand):
    """A command whose ``epilog`` keeps its line breaks in --help, and whose CommandError
    exits with its return code."""

    epilog = ""
    _called_from_command_line: bool  # set by BaseCommand.run_from_argv

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        kwargs.setdefault("epilog", self.epilog)
        kwargs["formatter_class"] = _HelpFormatter
        return super().create_parser(prog_name, subcommand, **kwargs)

    def execute(self, *args: Any, **options: Any) -> str | None:
        """From the command line, exit 1 prints no line on stderr (the output on stdout says
        it) and others no "CommandError:" prefix; programmatic callers still get the
        CommandError."""
        try:
            return super().execute(*args, **options)
        except CommandError as err:
            if not self._called_from_command_line or options.get("traceback"):
                raise
            if err.returncode != 1:
                self.stderr.write(str(err), style_func=self.style.ERROR)
            sys.exit(err.returncode)
