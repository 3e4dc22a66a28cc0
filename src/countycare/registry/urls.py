from django.urls import path

from . import views

app_name = "registry"

urlpatterns = [
    path("residents/", views.resident_search, name="resident_search"),
    path("residents/new/", views.resident_register, name="resident_register"),
    path("residents/<uuid:resident_uuid>/", views.resident_detail, name="resident_detail"),
    path("residents/<uuid:resident_uuid>/edit/", views.resident_edit, name="resident_edit"),
    path("residents/<uuid:resident_uuid>/merge/", views.resident_merge, name="resident_merge"),
    path("residents/<uuid:resident_uuid>/unmerge/", views.resident_unmerge, name="resident_unmerge"),
    path("organizations/", views.organization_tree, name="organization_tree"),
    path("organizations/<uuid:org_uuid>/", views.organization_page, name="organization_detail"),
    path("practitioners/", views.practitioner_list, name="practitioner_list"),
    path("practitioners/<uuid:practitioner_uuid>/", views.practitioner_page, name="practitioner_detail"),
]
