import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imcbench_site.settings")

app = Celery("imcbench_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
if not app.conf.broker_url:
    # The embedded default runs tasks eagerly; Celery still prepares a producer, which without a broker would
    # default to amqp on localhost. The in-memory transport connects to nothing.
    app.conf.broker_url = "memory://"
app.autodiscover_tasks()
