"""The HTTP API: FastAPI routers, authentication and dependencies."""
