from django.urls import path

from chat import playground_views

urlpatterns = [
    path("", playground_views.playground, name="playground"),
]
