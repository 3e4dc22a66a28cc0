"""Only the JSON API, mounted where the project mounts it: the API tests do not depend on the page apps."""

from django.urls import path

from countycare.api import api

urlpatterns = [path("api/", api.urls)]
