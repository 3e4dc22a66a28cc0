from django.urls import path

from . import views

app_name = "assessment"

urlpatterns = [
    path("assessment/", views.dashboard, name="dashboard"),
    path("assessment/trends.json", views.trend_data, name="trend_data"),
    path("assessment/report/", views.report, name="report"),
    path("assessment/report.xlsx", views.export_xlsx, name="export"),
    path("assessment/compute/", views.compute, name="compute"),
    path("assessment/indicators/<slug:code>/", views.indicator, name="indicator"),
    path("assessment/indicators/<slug:code>/records/", views.records, name="records"),
]
