"""Every business rule and permission (docs/concepts.md), one module per aggregate (no HTTP here)."""
