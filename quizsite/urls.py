from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from quizsite.accounts import account_urls

admin.site.site_header = "Tutorial quizzes — administration"
admin.site.site_title = "Tutorial quizzes admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include(account_urls(email_configured=settings.EMAIL_CONFIGURED))),
    path("", include("quizzes.urls")),
]
