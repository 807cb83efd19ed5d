"""Clients, one per credential: self-built, 代开发 and third-party corp apps, suites, providers, WeChat."""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any, ClassVar, TypeVar

import httpx

from ..runtime import logredact
from .api.base import api_namespace
from .api.department import DepartmentAPI
from .api.oauth import OAuthAPI
from .api.service import ProviderServiceAPI, SuiteServiceAPI
from .api.sns import SnsAPI
from .api.user import UserAPI
from .errors import SuiteTicketMissing, TransportError, UpstreamBusyError, error_for, redact
from .tickets import TicketStore
from .tokens import Credential, TokenManager

__all__ = [
    "WECHAT_BASE_URL",
    "WECOM_BASE_URL",
    "BaseCorpClient",
    "CorpClient",
    "ProviderClient",
    "ProxyCorpClient",
    "SuiteClient",
    "ThirdCorpClient",
    "WeChatClient",
    "WeComClient",
]

_Client = TypeVar("_Client", bound="WeComClient")

WECOM_BASE_URL = "https://qyapi.weixin.qq.com"
WECHAT_BASE_URL = "https://api.weixin.qq.com"
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)

# httpx logs every request URL at INFO (and httpcore at DEBUG): those URLs carry secrets and tokens.
logredact.install()


class WeComClient:
    """Base client: one httpx.Client, error mapping at the edge, token-aware calls via a TokenManager."""

    default_base_url: ClassVar[str] = WECOM_BASE_URL
    token_param: ClassVar[str] = "access_token"
    token_endpoint: ClassVar[str] = "cgi-bin/gettoken"
    credential: Credential

    def __init__(
        self,
        *,
        base_url: str | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        tokens: TokenManager | None = None,
    ) -> None:
        self.base_url = base_url or self.default_base_url
        self.tokens = tokens if tokens is not None else TokenManager()
        self._transport = transport
        self._timeout = timeout
        self._http = httpx.Client(
            base_url=self.base_url,
            transport=transport,
            timeout=timeout,
            headers={"User-Agent": "jitlite-wecom"},
            follow_redirects=False,
        )
        # Known secrets are masked in any log record or error text, whatever form they take there.
        logredact.register_secrets(*self._secret_values())

    # -- lifecycle ------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the underlying HTTP connection pool."""
        self._http.close()

    def __enter__(self: _Client) -> _Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.credential.owner!r}, base_url={self.base_url!r})"

    # -- hooks for subclasses -------------------------------------------------------------------

    def _secret_values(self) -> tuple[str, ...]:
        """Return the raw secrets this client holds, so they are scrubbed from error text."""
        return ()

    def _fetch_token(self) -> tuple[str, float]:
        """Fetch a fresh token and its lifetime in seconds from upstream."""
        raise NotImplementedError(f"{type(self).__name__} has no token endpoint")

    # -- calls ----------------------------------------------------------------------------------

    def access_token(self) -> str:
        """Return the cached token, fetching it (single-flight, with the retry policy) when stale."""
        return self.tokens.run(
            self.credential.owner,
            lambda: self.tokens.get_token(self.credential, self._fetch_token),
            endpoint=self.token_endpoint,
        )

    def invalidate_token(self) -> None:
        """Drop the cached token so the next call fetches a new one."""
        self.tokens.invalidate(self.credential)

    def call_api(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        token_param: str | None = None,
    ) -> dict[str, Any]:
        """Call an endpoint with this client's token under the refresh/backoff/circuit policy."""
        name = token_param or self.token_param

        def send(token: str) -> dict[str, Any]:
            return self.request(method, path, params={**(params or {}), name: token}, json=json)

        return self.tokens.call(self.credential, self._fetch_token, send, endpoint=path.strip("/"))

    def call_public(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None
    ) -> dict[str, Any]:
        """Call an endpoint that takes no client token, under the backoff/circuit policy."""
        return self.tokens.run(
            self.credential.owner,
            lambda: self.request(method, path, params=params, json=json),
            endpoint=path.strip("/"),
        )

    def request(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None
    ) -> dict[str, Any]:
        """Send one request and return its JSON object, mapping every failure to a WeComError."""
        endpoint = path.strip("/")
        secrets = self._secret_values()
        try:
            response = self._http.request(method, endpoint, params=params, json=json)
        except httpx.HTTPError as exc:
            raise TransportError(f"{endpoint}: {type(exc).__name__}: {redact(str(exc), secrets)}", endpoint) from exc
        status = response.status_code
        if status >= 500:
            raise UpstreamBusyError(
                -1,
                f"HTTP {status}",
                endpoint,
                hint=f"upstream answered HTTP {status}; retried with backoff",
                status_code=status,
            )
        if status != 200:
            raise TransportError(
                f"{endpoint}: unexpected HTTP {status} — check the base_url ({self.base_url})", endpoint
            )
        try:
            data = response.json()
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
            raise TransportError(f"{endpoint}: the response is not JSON ({type(exc).__name__})", endpoint) from exc
        if not isinstance(data, dict):
            raise TransportError(f"{endpoint}: expected a JSON object, got {type(data).__name__}", endpoint)
        errcode = data.get("errcode", 0)
        if errcode not in (0, None, "0"):
            try:
                code = int(errcode)
            except (TypeError, ValueError) as exc:
                raise TransportError(f"{endpoint}: errcode {errcode!r} is not an integer", endpoint) from exc
            raise error_for(code, redact(str(data.get("errmsg", "")), secrets), endpoint, status_code=status)
        return data

    def _token_from(self, data: Mapping[str, Any], field: str, endpoint: str) -> tuple[str, float]:
        token = data.get(field)
        expires_in = data.get("expires_in")
        if not isinstance(token, str) or not token:
            raise TransportError(f"{endpoint}: the response has no {field}", endpoint)
        try:
            lifetime = float(expires_in)  # type: ignore[arg-type]
        except (TypeError, ValueError) as exc:
            raise TransportError(f"{endpoint}: expires_in {expires_in!r} is not a number", endpoint) from exc
        if lifetime <= 0:
            raise TransportError(f"{endpoint}: expires_in {expires_in!r} is not positive", endpoint)
        return token, lifetime


class BaseCorpClient(WeComClient):
    """A client holding a corp access token: contacts and login namespaces."""

    department = api_namespace(DepartmentAPI)
    user = api_namespace(UserAPI)
    oauth = api_namespace(OAuthAPI)

    corp_id: str
    agent_id: str | None


class CorpClient(BaseCorpClient):
    """A self-built corp app (自建应用): token from ``gettoken`` with the app's secret."""

    credential_kind: ClassVar[str] = "corp"

    def __init__(
        self,
        corp_id: str,
        secret: str,
        agent_id: int | str | None = None,
        *,
        base_url: str | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        tokens: TokenManager | None = None,
    ) -> None:
        self.corp_id = corp_id
        self.agent_id = None if agent_id is None else str(agent_id)
        self._secret = secret
        self.credential = Credential.of(self.credential_kind, corp_id, secret, agent_id)
        super().__init__(base_url=base_url, transport=transport, timeout=timeout, tokens=tokens)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(corp_id={self.corp_id!r}, agent_id={self.agent_id!r})"

    def _secret_values(self) -> tuple[str, ...]:
        return (self._secret,)

    def _fetch_token(self) -> tuple[str, float]:
        """Fetch the corp access token.

        https://developer.work.weixin.qq.com/document/path/91039
        """
        endpoint = "cgi-bin/gettoken"
        data = self.request("GET", endpoint, params={"corpid": self.corp_id, "corpsecret": self._secret})
        return self._token_from(data, "access_token", endpoint)


class ProxyCorpClient(CorpClient):
    """A 代开发 app installed in a customer corp: ``gettoken`` with the permanent code as the secret.

    https://developer.work.weixin.qq.com/document/path/97164
    """

    credential_kind: ClassVar[str] = "proxy_corp"

    def __init__(
        self,
        corp_id: str,
        permanent_code: str,
        agent_id: int | str | None = None,
        *,
        base_url: str | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        tokens: TokenManager | None = None,
    ) -> None:
        super().__init__(
            corp_id,
            permanent_code,
            agent_id,
            base_url=base_url,
            transport=transport,
            timeout=timeout,
            tokens=tokens,
        )


class SuiteClient(WeComClient):
    """A third-party or 代开发 suite: suite token from the newest pushed suite_ticket."""

    service = api_namespace(SuiteServiceAPI)
    token_param: ClassVar[str] = "suite_access_token"
    token_endpoint: ClassVar[str] = "cgi-bin/service/get_suite_token"

    def __init__(
        self,
        suite_id: str,
        suite_secret: str,
        ticket_store: TicketStore,
        *,
        base_url: str | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        tokens: TokenManager | None = None,
    ) -> None:
        self.suite_id = suite_id
        self._suite_secret = suite_secret
        self.ticket_store = ticket_store
        self.credential = Credential.of("suite", suite_id, suite_secret)
        super().__init__(base_url=base_url, transport=transport, timeout=timeout, tokens=tokens)

    def __repr__(self) -> str:
        return f"SuiteClient(suite_id={self.suite_id!r})"

    def _secret_values(self) -> tuple[str, ...]:
        latest = self.ticket_store.latest(self.suite_id)
        return (self._suite_secret,) if latest is None else (self._suite_secret, latest[0])

    def suite_token_request(self) -> dict[str, str]:
        """Return the get_suite_token body, raising SuiteTicketMissing when no ticket arrived yet."""
        latest = self.ticket_store.latest(self.suite_id)
        if latest is None:
            raise SuiteTicketMissing(self.suite_id)
        return {"suite_id": self.suite_id, "suite_secret": self._suite_secret, "suite_ticket": latest[0]}

    def _fetch_token(self) -> tuple[str, float]:
        """Fetch the suite access token.

        https://developer.work.weixin.qq.com/document/path/90600
        """
        data = self.request("POST", self.token_endpoint, json=self.suite_token_request())
        return self._token_from(data, "suite_access_token", self.token_endpoint)

    def corp_client(self, auth_corpid: str, permanent_code: str, agent_id: int | str | None = None) -> ThirdCorpClient:
        """Return a client for a corp that installed this (third-party) suite."""
        return ThirdCorpClient(self, auth_corpid, permanent_code, agent_id)


class ThirdCorpClient(BaseCorpClient):
    """A corp that installed a third-party suite: token from ``service/get_corp_token``.

    https://developer.work.weixin.qq.com/document/path/90605
    """

    token_endpoint: ClassVar[str] = "cgi-bin/service/get_corp_token"

    def __init__(
        self, suite: SuiteClient, auth_corpid: str, permanent_code: str, agent_id: int | str | None = None
    ) -> None:
        self.suite = suite
        self.corp_id = auth_corpid
        self.agent_id = None if agent_id is None else str(agent_id)
        self._permanent_code = permanent_code
        self.credential = Credential.of("third_corp", auth_corpid, permanent_code, agent_id)
        super().__init__(
            base_url=suite.base_url, transport=suite._transport, timeout=suite._timeout, tokens=suite.tokens
        )

    def __repr__(self) -> str:
        return f"ThirdCorpClient(suite_id={self.suite.suite_id!r}, corp_id={self.corp_id!r})"

    def _secret_values(self) -> tuple[str, ...]:
        return (self._permanent_code,)

    def _fetch_token(self) -> tuple[str, float]:
        data = self.suite.service.get_corp_token(self.corp_id, self._permanent_code)
        return self._token_from(data, "access_token", self.token_endpoint)


class ProviderClient(WeComClient):
    """A service provider (服务商): provider token from ``service/get_provider_token``."""

    service = api_namespace(ProviderServiceAPI)
    token_param: ClassVar[str] = "provider_access_token"
    token_endpoint: ClassVar[str] = "cgi-bin/service/get_provider_token"

    def __init__(
        self,
        corp_id: str,
        provider_secret: str,
        *,
        base_url: str | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        tokens: TokenManager | None = None,
    ) -> None:
        self.corp_id = corp_id
        self._provider_secret = provider_secret
        self.credential = Credential.of("provider", corp_id, provider_secret)
        super().__init__(base_url=base_url, transport=transport, timeout=timeout, tokens=tokens)

    def __repr__(self) -> str:
        return f"ProviderClient(corp_id={self.corp_id!r})"

    def _secret_values(self) -> tuple[str, ...]:
        return (self._provider_secret,)

    def provider_token_request(self) -> dict[str, str]:
        """Return the get_provider_token body."""
        return {"corpid": self.corp_id, "provider_secret": self._provider_secret}

    def _fetch_token(self) -> tuple[str, float]:
        """Fetch the provider access token.

        https://developer.work.weixin.qq.com/document/path/91200
        """
        data = self.request("POST", self.token_endpoint, json=self.provider_token_request())
        return self._token_from(data, "provider_access_token", self.token_endpoint)


class WeChatClient(WeComClient):
    """A WeChat Open Platform app: website login (``sns/*``) and its own access token."""

    default_base_url: ClassVar[str] = WECHAT_BASE_URL
    sns = api_namespace(SnsAPI)
    token_endpoint: ClassVar[str] = "cgi-bin/token"

    def __init__(
        self,
        app_id: str,
        app_secret: str,
        *,
        base_url: str | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        tokens: TokenManager | None = None,
    ) -> None:
        self.app_id = app_id
        self._app_secret = app_secret
        self.credential = Credential.of("wechat", app_id, app_secret)
        super().__init__(base_url=base_url, transport=transport, timeout=timeout, tokens=tokens)

    def __repr__(self) -> str:
        return f"WeChatClient(app_id={self.app_id!r})"

    def _secret_values(self) -> tuple[str, ...]:
        return (self._app_secret,)

    def app_secret_for_request(self) -> str:
        """Return the AppSecret for the one endpoint that takes it as a query parameter."""
        return self._app_secret

    def _fetch_token(self) -> tuple[str, float]:
        """Fetch the app's interface access token (client_credential).

        https://developers.weixin.qq.com/doc/offiaccount/Basic_Information/Get_access_token.html
        """
        data = self.request(
            "GET",
            self.token_endpoint,
            params={"grant_type": "client_credential", "appid": self.app_id, "secret": self._app_secret},
        )
        return self._token_from(data, "access_token", self.token_endpoint)
