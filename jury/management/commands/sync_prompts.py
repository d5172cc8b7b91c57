from django.core.management.base import BaseCommand, CommandError

from jury.services import JuryError, sync_prompts


class Command(BaseCommand):
    help = "Load the judge prompt files (jury/prompts/*.txt) into the database with their content hashes."

    def handle(self, *args, **options):
        try:
            result = sync_prompts()
        except (JuryError, ValueError) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"prompts: {len(result.created)} created, {len(result.updated)} updated, {len(result.unchanged)} unchanged"
        )
        for reference in result.created + result.updated:
            self.stdout.write(f"  {reference}")
