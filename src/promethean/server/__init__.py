"""The Prometheus server: command, wiring, HTTP API v1, admin and lifecycle, federation."""
