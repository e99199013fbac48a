from django.urls import path

from quizzes import preview_views, views

app_name = "quizzes"

urlpatterns = [
    path("", views.home, name="home"),
    path("quizzes/<int:pk>/", views.quiz_take, name="quiz"),
    path("quizzes/<int:pk>/preview/", preview_views.quiz_preview, name="quiz_preview"),
    path("quizzes/<int:pk>/start/", views.quiz_start, name="quiz_start"),
    path("attempts/<int:pk>/submit/", views.attempt_submit_view, name="attempt_submit"),
    path("attempts/<int:pk>/save/", views.attempt_save_view, name="attempt_save"),
    path("attempts/<int:pk>/", views.attempt_result, name="attempt_result"),
]
