"""Audit trail of security-relevant actions, written by every domain."""
