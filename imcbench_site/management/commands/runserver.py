"""The development server, which starts (and answers 503, /readyz saying why) when the database is unavailable."""

from django.contrib.staticfiles.management.commands.runserver import Command as StaticFilesRunserver
from django.db import DatabaseError


class Command(StaticFilesRunserver):
    def check(self, *args, **kwargs):
        try:
            return super().check(*args, **kwargs)
        except DatabaseError as error:
            self._warn_unavailable(error)
            return super().check(*args, **{**kwargs, "databases": []})  # the checks that need no database

    def check_migrations(self):
        try:
            super().check_migrations()
        except DatabaseError as error:
            self._warn_unavailable(error)

    def _warn_unavailable(self, error: DatabaseError) -> None:
        if getattr(self, "_warned", False):
            return
        self._warned = True
        self.stderr.write(
            self.style.WARNING(
                f"The database is unavailable ({error}). Serving anyway: pages that need it answer 503 until it "
                "is back, and /readyz says what is wrong."
            )
        )
