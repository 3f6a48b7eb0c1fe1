"""Server-rendered pages for nurses and clinicians (DESIGN.md sections 1 and 6).

- the alert queue, with a table partial that htmx polls every 30 s and row actions that
  call notifications.services (the alert state machine lives there, not here);
- the alert detail: evidence in plain words, recent check-ins, labs, photos, history;
- the patient list and the patient page with charts, and the adherence CSV export.

Scoping: patients through tracker.selectors.patients_visible_to only (dashboard.access);
another clinic's patient or alert is a 404. Every list runs a fixed number of queries.
"""

from __future__ import annotations

import csv
import re
from datetime import timedelta
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth.views import LoginView, LogoutView
from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from dashboard import clinical
from dashboard.access import alerts_visible_to, audit, forbidden, is_dashboard_user, staff_page
from dashboard.evidence import LAB_LABELS, SYMPTOM_LABELS, describe
from dashboard.forms import (
    RESOLUTION_LABELS,
    LoginForm,
    NoteForm,
    PatientSearchForm,
    QueueFilterForm,
    ResolveForm,
)
from notifications.messages import RULE_LABELS
from notifications.models import Alert, AlertEvent
from notifications.services import alert_acknowledge, alert_assign, alert_comment, alert_resolve
from tracker import schedules
from tracker.models import CheckIn, ClasiAssessment, DoseLog, LabResult, LesionPhoto, Patient, User
from tracker.selectors import patients_visible_to
from tracker.services.errors import DomainError
from tracker.services.views import patient_adherence

QUEUE_PAGE_SIZE = 50
PATIENT_PAGE_SIZE = 50
TAPER_CHART_MAX_DAYS = 365


# --------------------------------------------------------------------------- sign-in


class DashboardLoginView(LoginView):
    """Django's login view with an e-mail form; staff only.

    A patient (or any account without a staff role) who types the right password gets the
    403 page and no session: the dashboard is not theirs, and a session would also open the
    session-authenticated API to them in this browser.
    """

    form_class = LoginForm
    template_name = "dashboard/login.html"

    def form_valid(self, form: LoginForm) -> HttpResponse:  # type: ignore[override]
        user = form.get_user()
        if user is None or not is_dashboard_user(user):
            return forbidden(self.request)
        auth_login(self.request, user)
        return redirect(self.get_success_url())


class DashboardLogoutView(LogoutView):
    next_page = "dashboard:login"


# --------------------------------------------------------------------------- alert queue


def _queue(request: HttpRequest) -> dict[str, Any]:
    user = request.user
    form = QueueFilterForm(request.GET or None)
    f = form.filters()
    qs = alerts_visible_to(user).select_related("patient", "assigned_to")
    if f["status"] == "active":
        qs = qs.exclude(status=Alert.Status.RESOLVED)
    elif f["status"] != "all":
        qs = qs.filter(status=f["status"])
    if f["severity"]:
        qs = qs.filter(severity=f["severity"])
    if f["rule"]:
        qs = qs.filter(rule=f["rule"])
    if f["mine"]:
        qs = qs.filter(assigned_to_id=user.pk)
    qs = qs.order_by("-severity_rank", "created_at", "pk")
    page = Paginator(qs, QUEUE_PAGE_SIZE).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    return {
        "form": form,
        "filters": f,
        "page": page,
        "alerts": list(page.object_list),
        "querystring": params.urlencode(),
        "refreshed_at": timezone.now(),
        "resolutions": RESOLUTION_LABELS.items(),
    }


@require_GET
@staff_page
def queue(request: HttpRequest) -> HttpResponse:
    context = _queue(request)
    audit(request, "read:alert-queue")
    return render(request, "dashboard/queue.html", {**context, "nav": "queue"})


@require_GET
@staff_page
def queue_table(request: HttpRequest) -> HttpResponse:
    # Not audited: it is the 30-second refresh of a page whose opening was.
    return render(request, "dashboard/partials/queue_table.html", _queue(request))


# --------------------------------------------------------------------------- alert actions


def _alert_or_404(request: HttpRequest, public_id: UUID) -> Alert:
    alert = (
        alerts_visible_to(request.user)
        .select_related("patient", "assigned_to")
        .filter(public_id=public_id)
        .first()
    )
    if alert is None:
        raise Http404
    return alert


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _after_action(
    request: HttpRequest, alert: Alert, *, error: str = "", done: str = ""
) -> HttpResponse:
    """htmx: the updated row (status 200 even on a refused action, so it is swapped in with
    the reason); a plain form post: back to where it came from, with a message."""
    if _is_htmx(request):
        fresh = _alert_or_404(request, alert.public_id)
        return render(
            request,
            "dashboard/partials/alert_row.html",
            {
                "alert": fresh,
                "row_error": error,
                "row_done": done,
                "resolutions": RESOLUTION_LABELS.items(),
            },
        )
    if error:
        messages.error(request, error)
    elif done:
        messages.success(request, done)
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = reverse("dashboard:alert", args=[alert.public_id])
    return redirect(target)


def _act(request: HttpRequest, public_id: UUID, action: str) -> HttpResponse:
    alert = _alert_or_404(request, public_id)
    user = request.user
    assert isinstance(user, User)
    try:
        if action == "acknowledge":
            alert_acknowledge(alert=alert, actor=user, note=request.POST.get("note", "")[:4000])
            done = "Acknowledged."
        elif action == "assign":
            alert_assign(alert=alert, actor=user, assignee=user)
            done = "Assigned to you."
        elif action == "resolve":
            form = ResolveForm(request.POST)
            if not form.is_valid():
                return _after_action(request, alert, error="Choose a resolution and write a note.")
            alert_resolve(
                alert=alert,
                actor=user,
                resolution=form.cleaned_data["resolution"],
                note=form.cleaned_data["note"],
            )
            done = "Resolved."
        else:
            form = NoteForm(request.POST)
            if not form.is_valid():
                return _after_action(request, alert, error="Write a comment first.")
            alert_comment(alert=alert, actor=user, note=form.cleaned_data["note"])
            done = "Comment added."
    except DomainError as exc:
        return _after_action(request, alert, error=exc.message)
    audit(request, f"{action}:alert", patient_id=alert.patient_id, obj=alert.public_id)
    return _after_action(request, alert, done=done)


@require_POST
@staff_page
def alert_acknowledge_view(request: HttpRequest, public_id: UUID) -> HttpResponse:
    return _act(request, public_id, "acknowledge")


@require_POST
@staff_page
def alert_assign_view(request: HttpRequest, public_id: UUID) -> HttpResponse:
    return _act(request, public_id, "assign")


@require_POST
@staff_page
def alert_resolve_view(request: HttpRequest, public_id: UUID) -> HttpResponse:
    return _act(request, public_id, "resolve")


@require_POST
@staff_page
def alert_comment_view(request: HttpRequest, public_id: UUID) -> HttpResponse:
    return _act(request, public_id, "comment")


# --------------------------------------------------------------------------- alert detail


def _thumbnails_available() -> bool:
    """Whether the photo API serves thumbnails yet (it is built separately)."""
    try:
        resolve(f"/api/v1/photos/{UUID(int=0)}/thumbnail/")
    except Resolver404:
        return False
    return True


def _check_in_rows(check_ins: list[CheckIn]) -> list[dict[str, Any]]:
    rows = []
    for c in check_ins:
        graded = [s for s in c.symptoms or [] if s.get("composite_grade") is not None]
        worst = max(graded, key=lambda s: s["composite_grade"], default=None)
        flags = [
            label
            for name, label in (
                ("new_lesions", "new lesions"),
                ("mouth_ulcers", "mouth ulcers"),
                ("hair_loss", "hair loss"),
                ("fever", "fever"),
                ("chest_pain", "chest pain"),
                ("neuro_symptoms", "neurological"),
                ("joint_pain", "joint pain"),
                ("foamy_urine", "foamy urine"),
                ("missed_period", "missed period"),
            )
            if getattr(c, name)
        ]
        rows.append(
            {
                "check_in": c,
                "worst_grade": worst["composite_grade"] if worst else None,
                "worst_term": SYMPTOM_LABELS.get(worst["term"], worst["term"]) if worst else "",
                "flags": flags,
            }
        )
    return rows


def _event_rows(events: list[AlertEvent]) -> list[dict[str, Any]]:
    """Each event with a short detail in words (one query for every assignee named)."""
    ids = {e.data.get("assignee") for e in events if e.kind == "assigned" and e.data}
    names = (
        {str(u.public_id): u for u in User.objects.filter(public_id__in=[i for i in ids if i])}
        if ids
        else {}
    )
    rows = []
    for e in events:
        data = e.data or {}
        detail = ""
        if e.kind == "assigned" and data.get("assignee") in names:
            u = names[data["assignee"]]
            detail = "to " + (f"{u.first_name} {u.last_name}".strip() or u.email)
        elif e.kind == "resolved" and data.get("resolution"):
            detail = RESOLUTION_LABELS.get(data["resolution"], data["resolution"])
        elif e.kind == "severity_raised" and data.get("to"):
            detail = f"from {data.get('from')} to {data['to']}"
        elif e.kind == "escalated" and data.get("reason"):
            detail = f"reason: {data['reason']}"
        elif e.kind == "delivery_failed" and data.get("channel"):
            detail = f"{data['channel']} ({data.get('purpose', '')})"
        rows.append({"event": e, "detail": detail})
    return rows


def _photo_pairs(photos: list[LesionPhoto], *, areas: int = 3) -> list[dict[str, Any]]:
    """Per body area (the most recently photographed first): the baseline and the latest."""
    by_area: dict[str, list[LesionPhoto]] = {}
    for p in sorted(photos, key=lambda p: p.taken_at):
        by_area.setdefault(p.body_area, []).append(p)
    ordered = sorted(by_area.items(), key=lambda kv: kv[1][-1].taken_at, reverse=True)
    return [
        {"area": area, "baseline": items[0], "latest": items[-1] if len(items) > 1 else None}
        for area, items in ordered[:areas]
    ]


@require_GET
@staff_page
def alert_detail(request: HttpRequest, public_id: UUID) -> HttpResponse:
    alert = _alert_or_404(request, public_id)
    patient = alert.patient
    events = list(alert.events.select_related("actor").order_by("at", "pk"))
    check_ins = list(CheckIn.objects.filter(patient=patient).order_by("-answered_at")[:4])
    labs = list(LabResult.objects.filter(patient=patient).order_by("-collected_at", "-id")[:6])
    photos = list(
        LesionPhoto.objects.filter(patient=patient, status=LesionPhoto.Status.READY).only(
            "public_id", "body_area", "taken_at", "width", "height"
        )
    )
    audit(request, "read:alert", patient_id=patient.pk, obj=alert.public_id)
    return render(
        request,
        "dashboard/alert_detail.html",
        {
            "nav": "queue",
            "alert": alert,
            "patient": patient,
            "rule_label": RULE_LABELS.get(alert.rule, alert.rule),
            "evidence": describe(alert.rule, alert.evidence),
            "events": _event_rows(events),
            "check_ins": _check_in_rows(check_ins),
            "labs": labs,
            "lab_labels": {k: v[0] for k, v in LAB_LABELS.items()},
            "photo_pairs": _photo_pairs(photos),
            "thumbnails": _thumbnails_available(),
            "resolutions": RESOLUTION_LABELS.items(),
            "resolution_label": RESOLUTION_LABELS.get(alert.resolution, alert.resolution),
        },
    )


# --------------------------------------------------------------------------- patients


def _open_alerts() -> Count:
    return Count("alerts", filter=~Q(alerts__status=Alert.Status.RESOLVED), distinct=True)


@require_GET
@staff_page
def patient_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = PatientSearchForm(request.GET or None)
    q = form.cleaned_data["q"].strip() if form.is_valid() else ""
    qs: QuerySet[Patient] = patients_visible_to(user).annotate(open_alerts=_open_alerts())
    if q:
        terms = Q()
        for word in q.split():
            terms &= (
                Q(first_name__icontains=word)
                | Q(last_name__icontains=word)
                | Q(mrn__icontains=word)
            )
        qs = qs.filter(terms)
    qs = qs.order_by("last_name", "first_name", "pk")
    page = Paginator(qs, PATIENT_PAGE_SIZE).get_page(request.GET.get("page"))
    patients = list(page.object_list)
    steps = clinical.current_steps_by_patient(p.pk for p in patients)
    membership = user.membership if isinstance(user, User) else None
    watch_days = clinical.clinic_thresholds(
        membership.clinic_id if membership else None
    ).taper_watch_days
    rows = []
    for p in patients:
        status = clinical.regimen_status(
            steps.get(p.pk, []), clinical.patient_today(p.timezone), watch_days
        )
        rows.append(
            {"patient": p, "status": status, "regimen": clinical.step_words(status.current)}
        )
    params = request.GET.copy()
    params.pop("page", None)
    audit(request, "read:patient-list")
    return render(
        request,
        "dashboard/patient_list.html",
        {
            "nav": "patients",
            "form": form,
            "q": q,
            "page": page,
            "rows": rows,
            "querystring": params.urlencode(),
        },
    )


def _patient_or_404(request: HttpRequest, public_id: UUID) -> Patient:
    patient = patients_visible_to(request.user).filter(public_id=public_id).first()
    if patient is None:
        raise Http404
    return patient


@require_GET
@staff_page
def patient_detail(request: HttpRequest, public_id: UUID) -> HttpResponse:
    patient = _patient_or_404(request, public_id)
    today = clinical.patient_today(patient.timezone)
    steps = clinical.current_steps_by_patient([patient.pk]).get(patient.pk, [])
    thresholds = clinical.clinic_thresholds(patient.clinic_id)
    status = clinical.regimen_status(steps, today, thresholds.taper_watch_days)

    cal_start, cal_end = clinical.calendar_range(today)
    days, summary = patient_adherence(patient, cal_start, cal_end, today)

    first = steps[0].starts_on if steps else today
    taper_start = max(first, today - timedelta(days=TAPER_CHART_MAX_DAYS))
    expected = schedules.expand(steps, taper_start, today, patient.timezone) if steps else []
    doses = list(
        DoseLog.objects.filter(
            patient=patient,
            superseded_at__isnull=True,
            scheduled_date__gte=taper_start,
            scheduled_date__lte=today,
        )
        .order_by("scheduled_date", "created_at")
        .only("scheduled_date", "status", "dose_mg")
    )
    clasi = list(
        ClasiAssessment.objects.filter(patient=patient)
        .order_by("assessed_on", "id")
        .only("assessed_on", "activity_score", "damage_score", "activity_band")
    )
    check_ins = list(
        CheckIn.objects.filter(patient=patient)
        .order_by("answered_at")
        .only("local_date", "symptoms", "answered_at")
    )
    labs = list(
        LabResult.objects.filter(
            patient=patient, test__in=["anc", "platelets"], value__isnull=False
        ).order_by("collected_at", "id")
    )
    photos = list(
        LesionPhoto.objects.filter(patient=patient, status=LesionPhoto.Status.READY)
        .order_by("body_area", "taken_at")
        .only("public_id", "body_area", "taken_at")
    )
    gallery: dict[str, list[LesionPhoto]] = {}
    for p in photos:
        gallery.setdefault(p.body_area, []).append(p)

    charts = {
        "taper": clinical.taper_chart(steps, expected, doses),
        "clasi": clinical.clasi_chart(clasi),
        "symptoms": clinical.symptom_chart(check_ins, SYMPTOM_LABELS),
        "anc": clinical.lab_chart(
            "ANC",
            [lab for lab in labs if lab.test == "anc"],
            clinical.ANC_GRADE_LINES,
            unit="×10⁹/L",
        ),
        "platelets": clinical.lab_chart(
            "Platelets",
            [lab for lab in labs if lab.test == "platelets"],
            clinical.PLATELET_GRADE_LINES,
            unit="×10⁹/L",
        ),
    }
    open_alerts = list(
        Alert.objects.filter(patient=patient)
        .exclude(status=Alert.Status.RESOLVED)
        .order_by("-severity_rank", "created_at")
    )
    audit(request, "read:patient", patient_id=patient.pk, obj=patient.public_id)
    return render(
        request,
        "dashboard/patient_detail.html",
        {
            "nav": "patients",
            "patient": patient,
            "today": today,
            "status": status,
            "current_words": clinical.step_words(status.current),
            "reduction_words": clinical.step_words(status.reduction),
            "steps": [{"step": s, "words": clinical.step_words(s)} for s in reversed(steps)],
            "weeks": clinical.adherence_calendar(days),
            "legend": clinical.calendar_legend(),
            "summary": summary,
            "share_pct": round(summary.share_taken * 100)
            if summary.share_taken is not None
            else None,
            "charts": charts,
            "clasi_events": clinical.clasi_events(clasi),
            "latest_clasi": clasi[-1] if clasi else None,
            "gallery": sorted(gallery.items()),
            "thumbnails": _thumbnails_available(),
            "open_alerts": open_alerts,
            "rule_labels": RULE_LABELS,
        },
    )


@require_GET
@staff_page
def adherence_csv(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """The whole adherence history, one row per local date from the first regimen step."""
    patient = _patient_or_404(request, public_id)
    today = clinical.patient_today(patient.timezone)
    steps = clinical.current_steps_by_patient([patient.pk]).get(patient.pk, [])
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = re.sub(r"[^A-Za-z0-9_-]", "_", patient.mrn) or str(patient.public_id)
    response["Content-Disposition"] = f'attachment; filename="adherence-{name}.csv"'

    writer = csv.writer(response)
    writer.writerow(["date", "expected_mg", "state", "logged_mg"])
    start = steps[0].starts_on if steps else today
    # schedules.expand refuses more than a year at once: walk the history a year at a time.
    while steps and start <= today:
        end = min(today, start + timedelta(days=schedules.MAX_EXPAND_DAYS - 1))
        days, _ = patient_adherence(patient, start, end, today)
        for d in days:
            writer.writerow(
                [
                    d.day.isoformat(),
                    clinical.num(d.expected_mg),
                    d.state,
                    clinical.num(d.logged_mg) if d.logged_mg is not None else "",
                ]
            )
        start = end + timedelta(days=1)
    audit(request, "export:adherence-csv", patient_id=patient.pk, obj=patient.public_id)
    return response
