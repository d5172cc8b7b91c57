"""Ready a deployment for serving: apply migrations, collect static files, create the first admin.

Run it on every release (it is idempotent). The admin comes from DJANGO_SUPERUSER_USERNAME, DJANGO_SUPERUSER_EMAIL
and DJANGO_SUPERUSER_PASSWORD, and is created only when no user of that name exists: an existing account (and its
password, perhaps changed since) is never touched.
"""

import os

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction


class Command(BaseCommand):
    help = "Apply migrations, collect static files and create the first admin from DJANGO_SUPERUSER_* (if absent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--no-collectstatic",
            action="store_true",
            help="skip collectstatic (a container image that collected them at build time)",
        )

    def handle(self, *args, no_collectstatic: bool = False, **options):
        verbosity = options["verbosity"]
        call_command("migrate", interactive=False, verbosity=verbosity)
        if not no_collectstatic:
            call_command("collectstatic", interactive=False, verbosity=verbosity)
        self._first_admin()

    def _first_admin(self) -> None:
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME", "").strip()
        if not username:
            self.stdout.write("No DJANGO_SUPERUSER_USERNAME: no admin created.")
            return
        users = get_user_model()
        if users.objects.filter(username=username).exists():
            self.stdout.write(f"Admin {username!r} exists: left as it is.")
            return
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD", "")
        email = os.environ.get("DJANGO_SUPERUSER_EMAIL", "").strip()
        if not password:
            raise CommandError(f"DJANGO_SUPERUSER_USERNAME={username!r} is set but DJANGO_SUPERUSER_PASSWORD is not.")
        candidate = users(username=username, email=email)
        try:
            validate_password(password, user=candidate)
        except ValidationError as error:
            raise CommandError(f"DJANGO_SUPERUSER_PASSWORD is refused: {' '.join(error.messages)}") from None
        with transaction.atomic():
            users.objects.create_superuser(username=username, email=email, password=password)
        self.stdout.write(self.style.SUCCESS(f"Admin {username!r} created."))
