"""The provider's claims: profile, e-mail and the ``groups`` claim, read from PROVIDER_GROUPS at every request."""

import json
import os

from oauth2_provider.oauth2_validators import OAuth2Validator


class GroupClaimValidator(OAuth2Validator):
    oidc_claim_scope = {**OAuth2Validator.oidc_claim_scope, "groups": "profile"}

    def get_additional_claims(self, request):
        with open(os.environ["PROVIDER_GROUPS"]) as handle:
            groups = json.load(handle).get(request.user.username, [])
        return {
            "preferred_username": request.user.username,
            "given_name": request.user.first_name,
            "family_name": request.user.last_name,
            "email": request.user.email,
            "groups": groups,
        }
