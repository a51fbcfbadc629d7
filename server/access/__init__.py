"""Who may do what: publishers, API tokens and their roles, authentication, the audit log."""

from server.access.auth import Access, access_of, authenticate
from server.access.tokens import Principal, Role

__all__ = ["Access", "Principal", "Role", "access_of", "authenticate"]
