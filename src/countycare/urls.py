from django.contrib import admin
from django.urls import include, path

from countycare.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("fhir/", include("countycare.fhir_urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("countycare.diagnostics.urls")),
    path("", include("countycare.assessment.urls")),
    path("", include("countycare.web.urls")),
]

handler500 = "countycare.web.errors.server_error"
