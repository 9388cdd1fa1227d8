"""tls-migrate: mod_ssl configuration -> mod_tls configuration (Python 3 stdlib only)."""
