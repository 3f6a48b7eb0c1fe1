"""Sign-in for the phone app (JWT) and the one-time activation of enrolled patients."""

from __future__ import annotations

from typing import Any

from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.utils import extend_schema, extend_schema_serializer, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.serializers import (
    PasswordField,
    TokenObtainPairSerializer,
    TokenRefreshSerializer,
)
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from tracker.services.patients import patient_activate


def axes_username(request: Any, credentials: dict[str, Any] | None) -> str:
    """Lock-out is per account: key it on the normalised e-mail, whatever the caller typed."""
    raw = (credentials or {}).get("email") or ""
    return str(raw).strip().lower()


class UserJWTScheme(SimpleJWTScheme):
    """OpenAPI: our JWT authentication is simplejwt's bearer scheme (matched by exact class)."""

    target_class = "api.authentication.UserJWTAuthentication"
    name = "jwtAuth"


class AccountLocked(exceptions.APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_detail = "Too many failed sign-ins: this account is locked for 15 minutes."
    default_code = "account_locked"


@extend_schema_serializer(component_name="TokenObtainPair")
class BoundedTokenObtainSerializer(TokenObtainPairSerializer):
    """simplejwt's sign-in with bounded fields: django-axes records the e-mail of a failed
    sign-in in a 255-character column, so a longer one was a 500, not a 401."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields[self.username_field] = serializers.CharField(write_only=True, max_length=254)
        self.fields["password"] = PasswordField(max_length=4096)


class TokenObtainApi(TokenObtainPairView):
    """POST email + password -> access (10 min) and refresh (rotated) tokens."""

    throttle_scope = "auth"
    serializer_class = BoundedTokenObtainSerializer

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            response = super().post(request, *args, **kwargs)
        except exceptions.AuthenticationFailed:
            # django-axes refused before checking the password: say so, with a distinct code.
            if getattr(request, "axes_locked_out", False) or getattr(
                request._request, "axes_locked_out", False
            ):
                raise AccountLocked() from None
            raise
        if settings.AXES_RESET_ON_SUCCESS:
            # axes resets on the user_logged_in signal, which a token sign-in never sends.
            axes_reset(username=axes_username(request, request.data))
        return response


@extend_schema_serializer(component_name="TokenRefresh")
class CheckedTokenRefreshSerializer(TokenRefreshSerializer):
    """simplejwt's refresh, with a refresh whose user is gone (or whose claims are absurd but
    correctly signed) refused as 401 instead of raising DoesNotExist / OverflowError (500)."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        try:
            return super().validate(attrs)
        except (ObjectDoesNotExist, DjangoValidationError, OverflowError, ValueError) as exc:
            raise InvalidToken("Token is invalid or its user no longer exists.") from exc


class TokenRefreshApi(TokenRefreshView):
    """POST refresh -> new access and refresh; the old refresh is blacklisted (reuse -> 401)."""

    throttle_scope = "auth"
    serializer_class = CheckedTokenRefreshSerializer


class ActivateApi(APIView):
    """An enrolled patient sets a password with the one-time activation code."""

    permission_classes = [AllowAny]
    authentication_classes: list[type] = []
    throttle_scope = "activate"

    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField()
        activation_code = serializers.CharField(max_length=32)
        password = serializers.CharField(max_length=128, write_only=True)

    @extend_schema(
        request=InputSerializer,
        responses={
            200: inline_serializer(
                "ActivateOutput",
                {"detail": serializers.CharField(), "email": serializers.EmailField()},
            )
        },
    )
    def post(self, request: Request) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        user = patient_activate(**payload.validated_data)
        request.user = AnonymousUser()
        return Response({"detail": "Account activated; you can now sign in.", "email": user.email})
