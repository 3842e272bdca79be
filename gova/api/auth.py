"""Bearer API keys → tenant: the dependency routes use (the cache is `key_cache`)."""

from __future__ import annotations

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gova.api.key_cache import Authenticator, Tenant, unauthorised
from gova.api.state import ApiState, get_state

__all__ = ["Authenticator", "Tenant", "authenticate", "bearer", "current_tenant", "unauthorised"]

MISSING_KEY = "missing API key: send 'Authorization: Bearer <key>'"

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="A tenant's API key, as `Authorization: Bearer <key>`.",
)


def client_address(request: Request) -> str:
    """The client's address: the peer's, or the one a trusted proxy forwarded (the app's
    ProxyHeadersMiddleware has already put it in the scope)."""
    return request.client.host if request.client else ""


async def authenticate(request: Request, key: str, state: ApiState) -> Tenant:
    return await state.auth.tenant_for(key, client_address(request), state.storage.tenants)


async def current_tenant(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Security(bearer),
    state: ApiState = Depends(get_state),
) -> Tenant:
    if credentials is None:
        raise unauthorised(MISSING_KEY)
    return await authenticate(request, credentials.credentials, state)
