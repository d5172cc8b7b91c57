from annotation.roles import roles_of


def roles(request) -> dict:
    """The signed-in user's roles as strings, for navigation."""
    return {"user_roles": {str(role) for role in roles_of(getattr(request, "user", None))}}
