"""JWT authentication that loads the user with its role in the same query."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from rest_framework import exceptions
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from tracker.models import User


class UserJWTAuthentication(JWTAuthentication):
    """JWT authentication that loads the user with its role in the same query."""

    def get_validated_token(self, raw_token: bytes) -> Any:
        try:
            return super().get_validated_token(raw_token)
        except (OverflowError, ValueError, TypeError) as exc:
            # A correctly signed token with an absurd claim (exp=10**20 overflows the date).
            raise InvalidToken("Token is invalid") from exc

    def get_user(self, validated_token: Any) -> User:
        try:
            # Our ids are UUIDs: anything else in the claim is a bad token, not a server error.
            user_id = UUID(str(validated_token[jwt_settings.USER_ID_CLAIM]))
        except (KeyError, ValueError) as exc:
            raise InvalidToken("Token contained no recognizable user identification") from exc
        user = (
            User.objects.select_related("staff_membership", "patient_profile")
            .filter(**{jwt_settings.USER_ID_FIELD: user_id})
            .first()
        )
        if user is None or not user.is_active:
            raise exceptions.AuthenticationFailed(
                "User not found or inactive.", code="user_inactive"
            )
        return user
