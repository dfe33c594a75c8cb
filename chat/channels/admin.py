"""Admin for channels (registered from chat/admin.py)."""
