"""photos/: lesion photos the patient uploads (multipart) and their care team views.

- POST photos/ (the patient): idempotent by client_id and by the uploaded bytes; 201 for a new
  photo, 200 with the first photo for a replay, 409 client_id_reused, 400 with the imaging
  refusal code (unsupported_type, truncated, corrupt, too_many_pixels, empty), 413 too_large
  (checked from Content-Length before the body is read, then from the file's size).
- GET photos/ (?patient=, ?body_area=), oldest to newest by taken_at: a lesion's course.
- GET photos/{id}/image/ and photos/{id}/thumbnail/: the checked JPEG (local storage) or a 302
  to a signed link that expires within 5 minutes (object storage). 409 integrity_error when the
  stored file no longer matches its SHA-256 (the photo is then rejected), 409 not_ready for the
  thumbnail of a photo still processing, 409 photo_rejected for a rejected photo.

Anyone but the patient and the staff of their clinic gets 404, never 403: other clinics must
not learn that a photo exists.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse, HttpResponseRedirect
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from api.audit import AuditedMixin
from api.errors import PayloadTooLarge
from api.permissions import StaffReadsPatientWrites
from api.v1.common import parse_uuid, scoped_records
from tracker import clasi, imaging
from tracker import storage as photo_files
from tracker.audit import audit_record
from tracker.models import LesionPhoto
from tracker.services import photos

AREA_CHOICES = list(clasi.AREAS)
_AREA_LABELS = {
    "v_neck": "V of the neck",
    "nose": "Nose (incl. malar area)",
    "posterior_neck": "Posterior neck and shoulders",
    "back": "Back and buttocks",
}
# Labelled, as the phone shows them. (Also keeps the schema's enum for this field apart from
# the unlabelled lesion_areas one, which drf-spectacular would otherwise flag as one choice
# set under two names.)
AREA_LABELLED = [(a, _AREA_LABELS.get(a, a.replace("_", " ").capitalize())) for a in AREA_CHOICES]
FORM_OVERHEAD_BYTES = 64 * 1024
"""Room for the multipart boundaries and the small text fields around the image."""

FILE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Referrer-Policy": "no-referrer",
}


class PhotoRefused(exceptions.APIException):
    """An upload that is not an acceptable photo; the code is the imaging refusal code."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "This file is not a photo we can accept."
    default_code = "unsupported_type"


def _too_large() -> PayloadTooLarge:
    limit = imaging.MAX_BYTES // (1024 * 1024)
    return PayloadTooLarge(
        detail=f"The photo is larger than {limit} MB. Please send a smaller photo.",
        code="too_large",
    )


class PhotoInput(serializers.Serializer):
    client_id = serializers.UUIDField()
    image = serializers.FileField(
        allow_empty_file=True, use_url=False, help_text="JPEG, PNG or HEIC, at most 15 MiB."
    )
    body_area = serializers.ChoiceField(choices=AREA_LABELLED, help_text="CLASI area code.")
    taken_at = serializers.DateTimeField()
    check_in = serializers.UUIDField(
        required=False, allow_null=True, help_text="One of your own check-ins."
    )
    patient = serializers.UUIDField(required=False, help_text="Ignored unless it is you.")


class PhotoOutput(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    patient = serializers.UUIDField(source="patient.public_id")
    client_id = serializers.UUIDField()
    body_area = serializers.CharField()
    taken_at = serializers.DateTimeField()
    check_in = serializers.UUIDField(source="check_in.public_id", allow_null=True)
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    sha256 = serializers.CharField(help_text="SHA-256 (hex) of the stored image.")
    status = serializers.ChoiceField(choices=LesionPhoto.Status.choices)
    image_url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def _base(self) -> str:
        base = self.context.get("photos_base")
        if base is None:
            path = reverse("v1:photo-list")
            request = self.context.get("request")
            base = request.build_absolute_uri(path) if request is not None else path
            self.context["photos_base"] = base
        return str(base)

    def get_image_url(self, obj: LesionPhoto) -> str | None:
        """The API path that serves the image (never a storage URL); null once rejected."""
        if obj.status == LesionPhoto.Status.REJECTED:
            return None
        return f"{self._base()}{obj.public_id}/image/"

    def get_thumbnail_url(self, obj: LesionPhoto) -> str | None:
        """The API path of the thumbnail; null until the photo is ready."""
        if obj.status != LesionPhoto.Status.READY:
            return None
        return f"{self._base()}{obj.public_id}/thumbnail/"


FILE_RESPONSES = {
    (200, "image/jpeg"): OpenApiResponse(OpenApiTypes.BINARY, description="The JPEG (local)."),
    302: OpenApiResponse(description="Redirect to a signed link (object storage, <= 5 min)."),
    404: OpenApiResponse(description="No such photo for you."),
    409: OpenApiResponse(description="integrity_error, not_ready or photo_rejected."),
}


class PhotoViewSet(AuditedMixin, viewsets.GenericViewSet):
    permission_classes = [StaffReadsPatientWrites]
    parser_classes = [MultiPartParser]
    serializer_class = PhotoOutput
    audit_object_type = "photo"
    lookup_url_kwarg = "id"

    def get_queryset(self) -> Any:
        qs = scoped_records(self.request, LesionPhoto).select_related("patient", "check_in")
        if area := self.request.query_params.get("body_area"):
            if area not in AREA_CHOICES:
                raise ValidationError({"body_area": [f"Not a CLASI area: {area[:40]}."]})
            qs = qs.filter(body_area=area)
        return qs.order_by("taken_at", "id")

    def _object(self, id: str) -> LesionPhoto:
        try:
            uid = parse_uuid(id, "id")
        except ValidationError:
            raise NotFound() from None
        photo = (
            scoped_records(self.request, LesionPhoto)
            .select_related("patient", "check_in")
            .filter(public_id=uid)
            .first()
        )
        if photo is None:
            raise NotFound()
        self.audit(patient_id=photo.patient_id, object_id=photo.public_id)
        return photo

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # The file actions answer images whatever the Accept header; errors are still JSON.
        force = force or self.action in ("image", "thumbnail")
        return super().perform_content_negotiation(request, force=force)

    @extend_schema(
        parameters=[
            OpenApiParameter("patient", str, description="Patient id (staff)"),
            OpenApiParameter("body_area", str, enum=AREA_CHOICES, description="CLASI area"),
        ],
        responses=PhotoOutput(many=True),
    )
    def list(self, request: Request) -> Response:
        """Photos oldest to newest by taken_at (per body area with ?body_area=)."""
        page = self.paginate_queryset(self.get_queryset())
        if request.user.patient is not None:
            self.audit(patient_id=request.user.patient.pk)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(responses=PhotoOutput)
    def retrieve(self, request: Request, id: str) -> Response:
        return Response(self.get_serializer(self._object(id)).data)

    @extend_schema(
        request={"multipart/form-data": PhotoInput},
        responses={
            201: PhotoOutput,
            200: PhotoOutput,
            409: OpenApiResponse(description="client_id_reused"),
            413: OpenApiResponse(description="too_large"),
        },
    )
    def create(self, request: Request) -> Response:
        # Before request.data: an oversized body is refused without being read.
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > imaging.MAX_BYTES + FORM_OVERHEAD_BYTES:
            raise _too_large()
        patient = request.user.patient
        payload = PhotoInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        claimed = data.pop("patient", None)
        if claimed is not None and claimed != patient.public_id:
            raise ValidationError({"patient": ["You can only send your own photos."]})
        upload = data.pop("image")
        if upload.size is None or upload.size > imaging.MAX_BYTES:
            raise _too_large()
        check_in = photos.check_in_for(patient, data.pop("check_in", None))
        try:
            result = photos.photo_upload(
                patient=patient,
                uploaded_by=request.user,
                stream=upload.file,
                check_in=check_in,
                **data,
            )
        except photos.PhotoRejected as exc:
            if exc.code == "too_large":
                raise _too_large() from exc
            raise PhotoRefused(detail=exc.message, code=exc.code) from exc
        self.audit(patient_id=patient.pk, object_id=result.obj.public_id)
        code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        return Response(self.get_serializer(result.obj).data, status=code)

    @extend_schema(responses=FILE_RESPONSES)
    @action(detail=True, methods=["get"], url_path="image")
    def image(self, request: Request, id: str) -> HttpResponse:
        """The stored image: re-encoded JPEG without metadata, checked against its SHA-256."""
        return self._file(request, id, thumbnail=False)

    @extend_schema(responses=FILE_RESPONSES)
    @action(detail=True, methods=["get"], url_path="thumbnail")
    def thumbnail(self, request: Request, id: str) -> HttpResponse:
        """The thumbnail (at most 320 px); 409 not_ready while the photo is processing."""
        return self._file(request, id, thumbnail=True)

    def _file(self, request: Request, id: str, *, thumbnail: bool) -> HttpResponse:
        photo = self._object(id)
        filename = f"photo-{photo.public_id}{'-thumbnail' if thumbnail else ''}.jpg"
        response: HttpResponse
        if photo_files.is_object_storage(photo_files.photo_storage()):
            served = photos.photo_file_checked(photo, thumbnail=thumbnail)
            response = HttpResponseRedirect(photo_files.signed_url(served.name, filename=filename))
            # AuditedMixin records 2xx answers only: a redirect hands the photo out too.
            audit_record(
                actor=request.user,
                action=f"read:{self.action}",
                patient_id=photo.patient_id,
                object_type=self.audit_object_type,
                object_id=str(photo.public_id),
                request_id=getattr(request._request, "request_id", ""),
            )
        else:
            data = photos.photo_bytes_checked(photo, thumbnail=thumbnail)
            response = HttpResponse(data, content_type=photo_files.JPEG)
            response["Content-Length"] = str(len(data))
            response["Content-Disposition"] = f'inline; filename="{filename}"'
        for header, value in FILE_HEADERS.items():
            response[header] = value
        return response
