"""sync/: the offline phone app's pull (changes since a cursor) and batched push.

Pull: rows of the patient's own records whose updated_at is after the cursor. Commits can
land out of timestamp order, so the server re-reads a 30-second overlap behind the cursor;
the app upserts by id, so an overlap only repeats rows, it never loses one.
Push: up to 500 queued dose logs and check-ins; each is idempotent by client_id and runs in
its own savepoint, so one bad record never fails the others.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.audit import AuditedMixin
from api.permissions import IsPatient
from api.v1.doses import DoseLogInput, dose_row, dose_values
from api.v1.records import CheckInInput, CheckInOutput, alerts_since
from tracker.jobs import patients_changed_once
from tracker.models import CheckIn, DoseLog, LabResult, RegimenStep
from tracker.services.errors import DomainConflict, DomainError
from tracker.services.records import (
    Pending,
    Recorded,
    check_in_prepare,
    dose_log_prepare,
    records_record_many,
    regimen_snapshot,
)

MAX_BATCH = 500
OVERLAP = timedelta(seconds=30)
PULL_LIMIT = 1000
CURSOR_MIN = datetime(2000, 1, 1, tzinfo=UTC)
CURSOR_MAX = datetime(9000, 1, 1, tzinfo=UTC)


def encode_cursor(moment: datetime) -> str:
    return base64.urlsafe_b64encode(moment.isoformat().encode()).decode().rstrip("=")


def decode_cursor(raw: str) -> datetime:
    invalid = ValidationError({"since": ["Not a cursor returned by this endpoint."]})
    try:
        padded = raw + "=" * (-len(raw) % 4)
        moment = datetime.fromisoformat(base64.urlsafe_b64decode(padded).decode())
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise invalid
        moment = moment.astimezone(UTC)
    except (ValueError, UnicodeDecodeError, OverflowError):
        raise invalid from None
    # Our cursors are recent instants; far-off ones would overflow the overlap or the database.
    if not CURSOR_MIN <= moment <= CURSOR_MAX:
        raise invalid
    return moment


class SyncApi(AuditedMixin, APIView):
    permission_classes = [IsPatient]
    audit_object_type = "sync"

    @extend_schema(
        parameters=[OpenApiParameter("since", str, description="Cursor from the last pull")],
        responses=inline_serializer(
            "SyncPull",
            {
                "cursor": serializers.CharField(),
                "has_more": serializers.BooleanField(),
                "dose_logs": serializers.ListField(),
                "check_ins": serializers.ListField(),
                "regimen_steps": serializers.ListField(),
                "lab_results": serializers.ListField(),
            },
        ),
    )
    def get(self, request: Request) -> Response:
        patient = request.user.patient
        self.audit(patient_id=patient.pk)
        raw = request.query_params.get("since")
        since = decode_cursor(raw) - OVERLAP if raw else None

        def changed(qs: Any) -> Any:
            qs = qs.filter(patient=patient)
            if since is not None:
                qs = qs.filter(updated_at__gt=since)
            return qs.order_by("updated_at", "id")[:PULL_LIMIT]

        doses = list(dose_values(changed(DoseLog.objects)))
        check_ins = list(changed(CheckIn.objects).select_related("patient"))
        steps = RegimenStep.objects.filter(patient=patient, superseded_at__isnull=True)
        labs = changed(LabResult.objects).values(
            "public_id",
            "test",
            "value",
            "result",
            "unit",
            "collected_at",
            "ctcae_grade",
            "updated_at",
        )
        labs = list(labs)
        stamps = (
            [r["updated_at"] for r in doses]
            + [c.updated_at for c in check_ins]
            + [r["updated_at"] for r in labs]
        )
        newest = max(stamps, default=None)
        has_more = PULL_LIMIT in (len(doses), len(check_ins), len(labs))
        cursor = (
            encode_cursor(newest) if newest else (raw or encode_cursor(timezone.now() - OVERLAP))
        )
        return Response(
            {
                "cursor": cursor,
                "has_more": has_more,
                "dose_logs": [dose_row(r) for r in doses],
                "check_ins": CheckInOutput(
                    check_ins, many=True, context={"alerts": alerts_since(check_ins)}
                ).data,
                "regimen_steps": [
                    {
                        "id": s.public_id,
                        "starts_on": s.starts_on,
                        "dose_mg": str(s.dose_mg),
                        "pattern": s.pattern,
                        "weekdays": s.weekdays,
                        "cycle_days_on": s.cycle_days_on,
                        "cycle_length": s.cycle_length,
                    }
                    for s in steps.order_by("starts_on")
                ],
                "lab_results": [{**r, "id": r.pop("public_id")} for r in labs],
            }
        )

    @extend_schema(
        request=inline_serializer(
            "SyncPush",
            {
                "dose_logs": DoseLogInput(many=True, required=False),
                "check_ins": CheckInInput(many=True, required=False),
            },
        ),
        responses=inline_serializer("SyncPushResult", {"results": serializers.ListField()}),
    )
    def post(self, request: Request) -> Response:
        patient = request.user.patient
        self.audit(patient_id=patient.pk)
        body = request.data if isinstance(request.data, dict) else None
        if body is None:
            raise ValidationError({"non_field_errors": ["Expected an object."]})
        batches = {k: body.get(k) or [] for k in ("dose_logs", "check_ins")}
        for key, items in batches.items():
            if not isinstance(items, list):
                raise ValidationError({key: ["Expected a list."]})
        if sum(len(v) for v in batches.values()) > MAX_BATCH:
            raise ValidationError({"non_field_errors": [f"At most {MAX_BATCH} records a batch."]})
        results: list[dict[str, Any]] = []
        prepared: list[tuple[int, Pending[Any]]] = []
        with transaction.atomic(), patients_changed_once(), regimen_snapshot():
            for kind, key, serializer, prepare in (
                ("dose_log", "dose_logs", DoseLogInput, dose_log_prepare),
                ("check_in", "check_ins", CheckInInput, check_in_prepare),
            ):
                for item in batches[key]:
                    outcome = self._prepare(kind, item, serializer, prepare)
                    if isinstance(outcome, Pending):
                        prepared.append((len(results), outcome))
                        outcome = {"kind": kind, "client_id": item["client_id"]}
                    results.append(outcome)
            # Every valid record is stored in one pass (a few statements, not a few per
            # record), each still idempotent on its client_id as if posted alone.
            stored = records_record_many(patient=patient, pending=[p for _, p in prepared])
            for (position, _), result in zip(prepared, stored, strict=True):
                results[position] = {**results[position], **_outcome(result)}
        return Response({"results": results})

    def _prepare(
        self, kind: str, item: Any, serializer: Any, prepare: Any
    ) -> Pending[Any] | dict[str, Any]:
        """The record ready to store, or its result entry with the errors that refuse it."""
        client_id = item.get("client_id") if isinstance(item, dict) else None
        out: dict[str, Any] = {"kind": kind, "client_id": client_id}
        payload = serializer(data=item)
        if not payload.is_valid():
            return {**out, "status": "error", "errors": payload.errors}
        data = dict(payload.validated_data)
        claimed = data.pop("patient", None)
        patient = self.request.user.patient
        if claimed is not None and claimed != patient.public_id:
            return {
                **out,
                "status": "error",
                "errors": {"patient": ["You can only report for yourself."]},
            }
        try:
            pending: Pending[Any] = prepare(patient=patient, recorded_by=self.request.user, **data)
        except DomainError as exc:
            return {**out, **_error(exc)}
        return pending


def _error(exc: DomainError) -> dict[str, Any]:
    return {
        "status": "error",
        "code": exc.code,
        "errors": exc.field_errors or {"non_field_errors": [exc.message]},
    }


def _outcome(result: Recorded[Any] | DomainConflict) -> dict[str, Any]:
    if isinstance(result, DomainConflict):
        return _error(result)
    return {
        "status": "created" if result.created else "duplicate",
        "id": str(result.obj.public_id),
    }
