"""The write API's function views: DRF's ``api_view`` for researchers and admins, with the API's error schema."""

from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view, parser_classes, permission_classes

from annotation.roles import HasRole, Role
from api.errors import ApiSchema

RESEARCH_ROLES = (Role.RESEARCHER, Role.ADMIN)


def research_endpoint(*, methods: list[str], parsers: list | None = None, **schema):
    """Make ``func`` an API view of ``methods`` that only researchers and admins may call, documented by
    ``schema`` (``extend_schema``'s arguments) plus the errors every operation answers."""

    def wrap(func):
        view = permission_classes([HasRole])(func)
        if parsers:
            view = parser_classes(parsers)(view)
        view = extend_schema(**schema)(api_view(methods)(view))
        view.cls.required_roles = RESEARCH_ROLES
        view.cls.schema = ApiSchema()
        return view

    return wrap
