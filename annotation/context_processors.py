from annotation.roles import actions_of, roles_of


def roles(request) -> dict:
    """The signed-in user's roles and the actions they may take, as strings, for navigation."""
    user = getattr(request, "user", None)
    return {"user_roles": {str(role) for role in roles_of(user)}, "may": {str(action) for action in actions_of(user)}}
