from django.urls import path

from tenants import views

urlpatterns = [
    path("tenants/<str:tenant_id>/settings", views.TenantSettingsView.as_view(), name="tenant-settings"),
    path("tenants/<str:tenant_id>/keys", views.ApiKeyListCreateView.as_view(), name="tenant-keys"),
    path(
        "tenants/<str:tenant_id>/keys/<int:key_id>/rotate", views.ApiKeyRotateView.as_view(), name="tenant-key-rotate"
    ),
    path(
        "tenants/<str:tenant_id>/keys/<int:key_id>/revoke", views.ApiKeyRevokeView.as_view(), name="tenant-key-revoke"
    ),
]
