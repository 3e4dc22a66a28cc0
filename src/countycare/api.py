"""The JSON API (django-ninja): /api/, OpenAPI at /api/openapi.json."""

from ninja import NinjaAPI

api = NinjaAPI(title="CountyCare API", version="1", urls_namespace="api")
