"""Run the test provider: migrate its SQLite file, register the app as a client, add a user, serve on a free port.

Usage: python -m tests.sso.provider.serve APP_BASE_URL CLIENT_ID CLIENT_SECRET USERNAME PASSWORD
Prints ``ready <port>`` once it answers; stops when its standard input closes.
"""

import os
import sys
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 — the stdlib's name
        pass


def main(app_url: str, client_id: str, client_secret: str, username: str, password: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.sso.provider.settings")
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application
    from oauth2_provider.models import Application

    call_command("migrate", verbosity=0)
    User.objects.create_user(username, password=password, first_name="Grace", last_name="Okafor", email="g@x.org")
    Application.objects.create(
        name="IMCBench Studio",
        client_id=client_id,
        client_secret=client_secret,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=f"{app_url}/login/sso/callback/",
        post_logout_redirect_uris=f"{app_url}/login/",
        algorithm=Application.RS256_ALGORITHM,
        skip_authorization=True,
    )
    server = make_server("127.0.0.1", 0, get_wsgi_application(), ThreadingServer, QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"ready {server.server_port}", flush=True)
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    main(*sys.argv[1:6])
