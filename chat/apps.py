from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = "Chat"

    def ready(self) -> None:
        from chat import signals  # noqa: F401 - connects the receivers
        from jobs import handlers

        # The conversation export runs as a job; its handler reads chat's rows (chat.exports).
        handlers.register("conversation-export", "chat.exports.export_conversations")
