from django.conf import settings
from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import views

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(
            redirect_authenticated_user=True,
            extra_context={"failure_limit": settings.AXES_FAILURE_LIMIT},
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.home, name="home"),
    path("me/", views.my_record, name="my_record"),
    path("audit/", views.audit_log, name="audit_log"),
    path("", include("countycare.registry.urls")),
    path("", include("countycare.workstation.urls")),
]
