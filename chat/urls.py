from django.urls import path

from chat import handoff_views, views

urlpatterns = [
    path("chat", views.ChatView.as_view(), name="chat"),
    path("conversations", views.ConversationListView.as_view(), name="conversation-list"),
    path("conversations/<uuid:conversation_id>", views.ConversationDetailView.as_view(), name="conversation-detail"),
    path("conversations/<uuid:conversation_id>/messages", views.MessageListView.as_view(), name="message-list"),
    path("messages/<uuid:message_id>/feedback", views.MessageFeedbackView.as_view(), name="message-feedback"),
    path(
        "conversations/<uuid:conversation_id>/handoff", handoff_views.HandoffView.as_view(), name="conversation-handoff"
    ),
    path("conversations/<uuid:conversation_id>/assign", handoff_views.AssignView.as_view(), name="conversation-assign"),
    path(
        "conversations/<uuid:conversation_id>/release", handoff_views.ReleaseView.as_view(), name="conversation-release"
    ),
    path("conversations/<uuid:conversation_id>/close", handoff_views.CloseView.as_view(), name="conversation-close"),
    path("tools", views.ToolListView.as_view(), name="tool-list"),
    path("tools/<uuid:tool_id>", views.ToolDetailView.as_view(), name="tool-detail"),
    path("usage", views.UsageListView.as_view(), name="usage-list"),
    path("demo/shipping-quote", views.DemoShippingQuoteView.as_view(), name="demo-shipping-quote"),
]
