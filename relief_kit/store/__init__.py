"""The case store: answers, decisions and the audit trail in SQLite.

It keeps what the core validated and holds no rule of its own.
"""
