"""The site's URLs as they are when EMAIL_URL is set (urls.py reads it once at import)."""

from django.contrib import admin
from django.urls import include, path

from quizsite.accounts import account_urls

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include(account_urls(email_configured=True))),
    path("", include("quizzes.urls")),
]
