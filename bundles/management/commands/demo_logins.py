from django.core.management.base import BaseCommand

from bundles.demo.accounts import DEMO_ACCOUNTS, DEMO_PASSWORD


class Command(BaseCommand):
    help = "Print the demo accounts and their password."

    def handle(self, *args, **options):
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for username, description, _ in DEMO_ACCOUNTS:
            self.stdout.write(f"  {username:<12} {description}")
