"""Every business rule and permission of API.md, one module per aggregate (no HTTP here)."""
