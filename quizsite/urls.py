from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Tutorial quizzes — administration"
admin.site.site_title = "Tutorial quizzes admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("quizzes.urls")),
]
