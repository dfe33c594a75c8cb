"""Admin for conversations, messages, tools and usage."""

from chat.channels import admin as channels_admin  # noqa: F401  (registers Channel admin)
