from django.urls import path

from knowledge import views

urlpatterns = [
    path("kb/upsert", views.UpsertView.as_view(), name="kb-upsert"),
    path("kb/documents", views.DocumentListView.as_view(), name="kb-documents"),
    path("kb/documents/upload", views.UploadView.as_view(), name="kb-upload"),
    path("kb/documents/<str:document_id>", views.DocumentDetailView.as_view(), name="kb-document"),
    path("kb/search", views.SearchView.as_view(), name="kb-search"),
    path("kb/sources", views.SourceListCreateView.as_view(), name="kb-sources"),
    path("kb/sources/<str:source_id>", views.SourceDetailView.as_view(), name="kb-source"),
    path("kb/sources/<str:source_id>/refresh", views.SourceRefreshView.as_view(), name="kb-source-refresh"),
]
