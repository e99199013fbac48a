from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from ops.lockouts import lockouts_view
from quizsite.accounts import account_urls
from quizzes.admin_courses import view_on_site_scoped

# The one place that configures the global admin site (model admins only register models).
admin.site.site_header = "Tutorial quizzes — administration"
admin.site.site_title = "Tutorial quizzes admin"
# The admin index links to Sync health. The nav sidebar is off: the marks and attempts lists
# need the width, and the three models are one click away on the index.
admin.site.index_template = "admin/academic_integration/index.html"
admin.site.enable_nav_sidebar = False

urlpatterns = [
    # Before admin's own: View on site answers 404 for what the user may not see.
    path(
        "admin/r/<int:content_type_id>/<path:object_id>/",
        admin.site.admin_view(view_on_site_scoped),
        name="view_on_site_scoped",
    ),
    path("admin/lockouts/", admin.site.admin_view(lockouts_view), name="login_lockouts"),
    path("admin/", admin.site.urls),
    path("accounts/", include(account_urls(email_configured=settings.EMAIL_CONFIGURED))),
    path("", include("quizzes.urls")),
]
