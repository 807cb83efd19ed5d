"""The package's public surface: __all__ is complete and every name resolves."""

from __future__ import annotations

import inspect

import jitlite.wecom as wecom
from jitlite.wecom import api, cache, client, crypto, errors, paging, tickets, tokens


def test_all_names_resolve() -> None:
    for name in wecom.__all__:
        assert hasattr(wecom, name), name
    assert len(set(wecom.__all__)) == len(wecom.__all__)


def test_all_is_complete() -> None:
    modules = (cache, client, crypto, errors, paging, tickets, tokens)
    public = {name for module in modules for name in module.__all__}
    assert public == set(wecom.__all__)
    for module in (*modules, api):
        defined = {
            name
            for name, value in vars(module).items()
            if not name.startswith("_")
            and (inspect.isclass(value) or inspect.isfunction(value))
            and getattr(value, "__module__", "").startswith(module.__name__)
        }
        assert defined <= set(module.__all__), (module.__name__, defined - set(module.__all__))


def test_the_sandbox_facing_crypto_signature_is_stable() -> None:
    parameters = inspect.signature(wecom.WeComCrypto).parameters
    assert list(parameters)[:3] == ["token", "encoding_aes_key", "receive_ids"]
    for keyword in ("timestamp_window", "nonce_cache", "max_body_bytes", "clock"):
        assert parameters[keyword].kind is inspect.Parameter.KEYWORD_ONLY
    for method in ("verify_url", "decrypt_message", "encrypt_message", "encrypt", "signature"):
        assert callable(getattr(wecom.WeComCrypto, method))
    assert [f for f in wecom.DecryptedMessage.__dataclass_fields__] == ["xml", "receive_id", "fields"]


def test_every_api_method_links_its_official_doc() -> None:
    api_classes = (
        api.DepartmentAPI,
        api.UserAPI,
        api.OAuthAPI,
        api.SuiteServiceAPI,
        api.ProviderServiceAPI,
        api.SnsAPI,
    )
    for api_cls in api_classes:
        for name, method in vars(api_cls).items():
            if inspect.isfunction(method) and not name.startswith("_"):
                doc = method.__doc__ or ""
                assert "developer.work.weixin.qq.com/document/path/" in doc or (
                    "developers.weixin.qq.com/doc/" in doc
                ), f"{api_cls.__name__}.{name}"
