from __future__ import annotations

from django.urls import path

from dashboard import views

app_name = "dashboard"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("login/", views.DashboardLoginView.as_view(), name="login"),
    path("logout/", views.DashboardLogoutView.as_view(), name="logout"),
    path("alerts/table/", views.queue_table, name="queue_table"),
    path("alerts/<uuid:public_id>/", views.alert_detail, name="alert"),
    path(
        "alerts/<uuid:public_id>/acknowledge/",
        views.alert_acknowledge_view,
        name="alert_acknowledge",
    ),
    path("alerts/<uuid:public_id>/assign/", views.alert_assign_view, name="alert_assign"),
    path("alerts/<uuid:public_id>/resolve/", views.alert_resolve_view, name="alert_resolve"),
    path("alerts/<uuid:public_id>/comment/", views.alert_comment_view, name="alert_comment"),
    path("patients/", views.patient_list, name="patients"),
    path("patients/<uuid:public_id>/", views.patient_detail, name="patient"),
    path(
        "patients/<uuid:public_id>/adherence.csv",
        views.adherence_csv,
        name="patient_adherence_csv",
    ),
]
