"""SIGANTENG: a multi-tenant backend for AI customer agents."""
