from django.contrib import admin
from django.urls import include, path

from quizzes.admin_courses import view_on_site_scoped

admin.site.site_header = "Tutorial quizzes — administration"
admin.site.site_title = "Tutorial quizzes admin"

urlpatterns = [
    # Before admin's own: View on site answers 404 for what the user may not see.
    path(
        "admin/r/<int:content_type_id>/<path:object_id>/",
        admin.site.admin_view(view_on_site_scoped),
        name="view_on_site_scoped",
    ),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("quizzes.urls")),
]
