"""Secrets at rest: sealed Secret fields (AES-256-GCM-SIV; Fernet tokens of earlier versions still read), key rotation
and the errors around keys."""

from __future__ import annotations

import pickle
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from sqlalchemy.engine import Engine

from jitlite.storage import (
    SECRET_KEY_VARIABLE,
    FilterError,
    Model,
    QueryError,
    Secret,
    SecretBox,
    SecretKeyError,
    Stext,
)


class CorpAuth(Model):
    __tablename__ = "corp_auth"
    corpId = Stext(max_length=64, unique=True, nullable=False)
    corpName = Stext()
    permanentCode = Secret()


def raw_codes(engine: Engine) -> dict[str, str | None]:
    """Return the permanentCode column exactly as stored."""
    with engine.connect() as conn:
        return dict(conn.execute(sa.text('SELECT "corpId", "permanentCode" FROM corp_auth')).all())


def test_box_round_trip_and_rotation() -> None:
    old, new = SecretBox.generate_key(), SecretBox.generate_key()
    token = SecretBox(old).encrypt("密码 s3cret")
    assert token != "密码 s3cret"
    assert SecretBox(old).decrypt(token) == "密码 s3cret"
    rotating = SecretBox(f"{new}, {old}")  # the first key encrypts, every key decrypts
    assert rotating.key_count == 2
    assert rotating.decrypt(token) == "密码 s3cret"
    rotated = rotating.rotate(token)
    assert SecretBox(new).decrypt(rotated) == "密码 s3cret"
    with pytest.raises(SecretKeyError, match="cannot be decrypted with the keys in JITLITE_SECRET_KEY"):
        SecretBox(new).decrypt(token)
    with pytest.raises(SecretKeyError, match="cannot be decrypted"):
        SecretBox(new).decrypt("not a token")


def test_values_stored_as_fernet_tokens_by_earlier_versions_still_read_and_rotate_to_the_current_format() -> None:
    key = SecretBox.generate_key()
    legacy = Fernet(key).encrypt(b"perm-code").decode()
    box = SecretBox(key)
    assert box.decrypt(legacy) == "perm-code"
    rotated = box.rotate(legacy)
    assert rotated.startswith("j2.") and box.decrypt(rotated) == "perm-code"
    # The sealing key is derived from the configured one, not the bytes Fernet uses: a Fernet
    # token made with another key is refused, as is a sealed value under another key.
    with pytest.raises(SecretKeyError, match="cannot be decrypted"):
        SecretBox(SecretBox.generate_key()).decrypt(legacy)


@pytest.mark.parametrize("tamper", [
    lambda t: t[:30] + ("A" if t[30] != "A" else "B") + t[31:],  # a changed byte: the tag no longer matches
    lambda t: t[:20],  # cut short
    lambda t: "j2.!!!not base64!!!",
    lambda t: "j2.",
])
def test_an_altered_sealed_value_is_refused(tamper: Callable[[str], str]) -> None:
    box = SecretBox(SecretBox.generate_key())
    token = box.encrypt("the permanent code")
    with pytest.raises(SecretKeyError, match="encrypted with another key or altered"):
        box.decrypt(tamper(token))


def test_a_cryptography_build_without_aes_gcm_siv_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from cryptography.exceptions import UnsupportedAlgorithm

    from jitlite.storage import secrets

    def unsupported(key: bytes) -> None:
        raise UnsupportedAlgorithm("AES-GCM-SIV is not supported by this version of OpenSSL")

    monkeypatch.setattr(secrets, "AESGCMSIV", unsupported)
    with pytest.raises(SecretKeyError, match=r"lacks AES-GCM-SIV .* install cryptography from PyPI's wheels") as caught:
        SecretBox(SecretBox.generate_key())
    assert caught.value.__cause__ is None


def test_box_never_shows_its_keys() -> None:
    key = SecretBox.generate_key()
    box = SecretBox(key)
    assert key not in repr(box) and repr(box) == "<SecretBox with 1 key>"
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(box)
    bad = key[:-8] + "!!!!!!!!"
    with pytest.raises(SecretKeyError) as caught:
        SecretBox(f"{key},{bad}")
    assert "key #2 of JITLITE_SECRET_KEY is not a Fernet key" in str(caught.value)
    assert bad not in str(caught.value) and key not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    with pytest.raises(SecretKeyError, match="no secret key given"):
        SecretBox("  ")


def test_box_from_environment() -> None:
    key = SecretBox.generate_key()
    assert SecretBox.from_env({}) is None
    box = SecretBox.from_env({SECRET_KEY_VARIABLE: key})
    assert box is not None and box.decrypt(SecretBox(key).encrypt("x")) == "x"


def test_binding_without_a_box_is_a_clear_error(engine: Engine) -> None:
    with pytest.raises(SecretKeyError) as caught:
        CorpAuth.bind(engine)
    assert str(caught.value) == (
        "model CorpAuth stores secrets (permanentCode); set the variable JITLITE_SECRET_KEY to a "
        "Fernet key (generate one with `jitlite keygen`)"
    )


def test_secrets_are_encrypted_at_rest_and_decrypted_on_read(engine: Engine) -> None:
    key = SecretBox.generate_key()
    auths = CorpAuth.bind(engine, secret_box=SecretBox(key))
    created = auths.create({"corpId": "ww1", "corpName": "Acme", "permanentCode": "perm-code-1"})
    assert created.permanentCode == "perm-code-1"
    assert "perm-code-1" not in repr(created) and "'permanentCode': '***'" in repr(created)
    auths.createOrUpdateMany([{"corpId": "ww2", "permanentCode": "perm-code-2"}, {"corpId": "ww3"}])
    auths.updateOrAdd("Q(corpId='ww3')", {"permanentCode": "perm-code-3"})
    auths.updateByFilter("Q(corpId='ww1')", {"corpName": "Acme Ltd"})
    stored = raw_codes(engine)
    assert set(stored) == {"ww1", "ww2", "ww3"}
    for corp, token in stored.items():
        assert token is not None and "perm-code" not in token and token.startswith("j2.")
        assert SecretBox(key).decrypt(token) == f"perm-code-{corp[-1]}"
    read = {row.corpId: row.permanentCode for row in auths.query()["rowDatas"]}
    assert read == {"ww1": "perm-code-1", "ww2": "perm-code-2", "ww3": "perm-code-3"}
    # The same plaintext twice gives two ciphertexts: every value has a random nonce.
    auths.updateByPK(created.id, {"permanentCode": "perm-code-1"})
    assert raw_codes(engine)["ww1"] != stored["ww1"]


def test_secret_fields_cannot_be_filtered_or_ordered(engine: Engine, box: SecretBox) -> None:
    auths = CorpAuth.bind(engine, secret_box=box)
    with pytest.raises(FilterError, match="'permanentCode' is a Secret field: it is stored encrypted"):
        auths.query("Q(permanentCode='x')")
    with pytest.raises(FilterError, match="is a Secret field"):
        auths.get("Q(permanentCode__isnull=True)")
    with pytest.raises(QueryError, match="cannot order by Secret field 'permanentCode'"):
        auths.query(orderList=[["permanentCode", 1]])


def test_a_different_key_cannot_read_and_rotation_re_encrypts(engine: Engine) -> None:
    old, new = SecretBox.generate_key(), SecretBox.generate_key()
    CorpAuth.bind(engine, secret_box=SecretBox(old)).createOrUpdateMany(
        [{"corpId": f"ww{i}", "permanentCode": f"code-{i}"} for i in range(5)] + [{"corpId": "none"}]
    )
    with pytest.raises(SecretKeyError, match="keep the old key after the new one"):
        CorpAuth.bind(engine, secret_box=SecretBox(new)).query()
    rotating = CorpAuth.bind(engine, secret_box=SecretBox(f"{new},{old}"))
    assert rotating.rotate_secrets(batch_size=2) == 6
    only_new = CorpAuth.bind(engine, secret_box=SecretBox(new))
    assert {r.corpId: r.permanentCode for r in only_new.query()["rowDatas"]} == {
        **{f"ww{i}": f"code-{i}" for i in range(5)},
        "none": None,
    }
