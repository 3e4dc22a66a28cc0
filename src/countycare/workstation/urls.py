from django.urls import path

from . import slots, views, walkin

app_name = "workstation"

urlpatterns = [
    path("workstation/", views.today, name="today"),
    path("workstation/walk-in/", walkin.walk_in, name="walk_in"),
    path("workstation/icd10/", views.icd10_search, name="icd10_search"),
    path("workstation/icd10/pick/", views.icd10_pick, name="icd10_pick"),
    path("patients/<uuid:resident_uuid>/", views.patient, name="patient"),
    path("patients/<uuid:resident_uuid>/encounters/new/", views.encounter_new, name="encounter_new"),
    path("patients/<uuid:resident_uuid>/refer/", views.refer, name="refer"),
    path("encounters/<uuid:encounter_uuid>/", views.encounter_detail, name="encounter"),
    path("encounters/<uuid:encounter_uuid>/discharge/", views.encounter_discharge, name="encounter_discharge"),
    path("referrals/", views.board, name="board"),
    path("referrals/inbox/", views.inbox, name="inbox"),
    path("referrals/slots/", slots.slots, name="slots"),
    path("referrals/<uuid:referral_uuid>/", views.referral_detail, name="referral"),
    path("referrals/<uuid:referral_uuid>/letter/", views.referral_letter, name="referral_letter"),
    path("referrals/<uuid:referral_uuid>/care-plan/", views.care_plan_print, name="care_plan_print"),
    path("referrals/<uuid:referral_uuid>/<slug:action>/", views.referral_transition, name="referral_transition"),
    path("me/timeline/", views.my_timeline, name="my_timeline"),
]
