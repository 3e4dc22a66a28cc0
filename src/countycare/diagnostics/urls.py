from django.urls import path

from . import views

app_name = "diagnostics"

urlpatterns = [
    # the requesting clinic
    path("patients/<uuid:resident_uuid>/exams/new/", views.request_new, name="request_new"),
    path("patients/<uuid:resident_uuid>/exams/recognised/", views.use_recognised, name="use_recognised"),
    path("exams/", views.requests, name="requests"),
    path("exams/alerts/", views.alerts, name="alerts"),
    path("exams/alerts/<uuid:alert_uuid>/acknowledge/", views.alert_acknowledge, name="alert_acknowledge"),
    path("exams/<uuid:exam_uuid>/", views.exam_detail, name="exam"),
    path("exams/<uuid:exam_uuid>/acquire/", views.acquire, name="acquire"),
    path("exams/<uuid:exam_uuid>/cancel/", views.cancel, name="cancel"),
    path("exams/<uuid:exam_uuid>/report/", views.report, name="report"),
    path("exams/<uuid:exam_uuid>/tracing/", views.tracing, name="tracing"),
    path("exams/<uuid:exam_uuid>/preview/<str:instance_id>/", views.preview, name="preview"),
    path("exams/<uuid:exam_uuid>/files/<uuid:attachment_uuid>/", views.attachment, name="attachment"),
    # the centre
    path("centres/", views.centres, name="centres"),
    path("centres/<int:centre_id>/", views.worklist, name="worklist"),
    path("centres/<int:centre_id>/claim-next/", views.claim_next, name="claim_next"),
    path("centres/<int:centre_id>/turnaround/", views.board, name="board"),
    path("centres/<int:centre_id>/turnaround/data/", views.board_data, name="board_data"),
    # the reading pages sit under /centres/ (the readers' navigation item)
    path("centres/exams/<uuid:exam_uuid>/", views.read, name="read"),
    path("centres/exams/<uuid:exam_uuid>/claim/", views.claim, name="claim"),
    path("centres/exams/<uuid:exam_uuid>/report/", views.write_report, name="write_report"),
    path("centres/exams/<uuid:exam_uuid>/revise/", views.revise, name="revise"),
    path("centres/exams/<uuid:exam_uuid>/<slug:action>/", views.centre_step, name="centre_step"),
]
