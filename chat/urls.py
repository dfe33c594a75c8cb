from django.urls import path

from chat import views

urlpatterns = [
    path("chat", views.ChatView.as_view(), name="chat"),
    path("conversations", views.ConversationListView.as_view(), name="conversation-list"),
    path("conversations/<uuid:conversation_id>", views.ConversationDetailView.as_view(), name="conversation-detail"),
    path("conversations/<uuid:conversation_id>/messages", views.MessageListView.as_view(), name="message-list"),
    path("messages/<uuid:message_id>/feedback", views.MessageFeedbackView.as_view(), name="message-feedback"),
    path("tools", views.ToolListView.as_view(), name="tool-list"),
    path("tools/<uuid:tool_id>", views.ToolDetailView.as_view(), name="tool-detail"),
    path("usage", views.UsageListView.as_view(), name="usage-list"),
    path("demo/shipping-quote", views.DemoShippingQuoteView.as_view(), name="demo-shipping-quote"),
]
