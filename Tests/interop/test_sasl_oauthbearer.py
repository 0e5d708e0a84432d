"""OAUTHBEARER (RFC 7628, KIP-255/768) with confluent-kafka: its `oauth_cb` returns JWTs this test signs with
PyJWT (RS256 and ES256); the broker verifies them against a JWKS file. Refused tokens (expired, foreign key,
wrong audience or issuer, HS256, unsigned) fail with Kafka's `{"status":"invalid_token"}`; the token's `exp`
bounds the session and librdkafka re-authenticates with a fresh token; a new key in the JWKS file is picked up
without a restart.
"""
import json
import re
import time
import uuid

import jwt
import pytest
from confluent_kafka import KafkaError, Producer
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from conftest import BrokerProcess
from test_sasl import consumed_values, sasl_certs, stop_checked  # noqa: F401  (sasl_certs: module fixture, CA and broker certificate)

ISSUER = "https://idp.rampart.test"
AUDIENCE = "rampart"


class Signer:
    def __init__(self, algorithm, kid):
        self.algorithm, self.kid = algorithm, kid
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048) if algorithm == "RS256" \
            else ec.generate_private_key(ec.SECP256R1())

    def jwk(self):
        tool = RSAAlgorithm if self.algorithm == "RS256" else ECAlgorithm
        return {**json.loads(tool.to_jwk(self.key.public_key())), "kid": self.kid, "use": "sig", "alg": self.algorithm}

    def token(self, sub="carol", lifetime=300, **overrides):
        now = int(time.time())
        claims = {"sub": sub, "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + lifetime, **overrides}
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, self.key, algorithm=self.algorithm, headers={"kid": self.kid})


RSA_SIGNER = Signer("RS256", "rsa-1")
EC_SIGNER = Signer("ES256", "ec-1")


def write_jwks(path, signers):
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"keys": [s.jwk() for s in signers]}))
    tmp.rename(path)


@pytest.fixture(scope="module")
def oauth_broker(tmp_path_factory, sasl_certs):  # noqa: F811
    workdir = tmp_path_factory.mktemp("oauth-broker")
    jwks = workdir / "jwks.json"
    write_jwks(jwks, [RSA_SIGNER, EC_SIGNER])
    broker = BrokerProcess(workdir, tls_ca=sasl_certs / "ca.pem", extra_properties={
        "listeners": "SASL_SSL://127.0.0.1:{port}",
        "ssl.keystore.location": str(sasl_certs / "broker-keystore.pem"),
        "sasl.enabled.mechanisms": "OAUTHBEARER",
        "sasl.oauthbearer.jwks.endpoint.url": f"file://{jwks}",
        "sasl.oauthbearer.expected.audience": AUDIENCE,
        "sasl.oauthbearer.expected.issuer": ISSUER,
        "sasl.oauthbearer.clock.skew.seconds": "2",
        "connections.max.reauth.ms": "600000",
        "rampart.ssl.reload.interval.ms": "200",
        "rampart.auth.failure.threshold": "0",
        "rampart.log.level": "debug",
    })
    broker.jwks = jwks
    broker.start()
    yield broker
    stop_checked(broker, "OAUTHBEARER broker")


def client_config(broker, certs, make_token, refresh_early_s=0):
    def oauth_cb(_config):
        token = make_token()
        claims = jwt.decode(token, options={"verify_signature": False})
        # librdkafka refuses a token it believes expired; tell it a future expiry so the broker judges.
        expiry = max(float(claims.get("exp", 0)) - refresh_early_s, time.time() + 1) if claims.get("exp", 0) > time.time() \
            else time.time() + 60
        return token, expiry, claims.get("sub", "unknown")
    return {"bootstrap.servers": broker.bootstrap, "security.protocol": "SASL_SSL", "ssl.ca.location": str(certs / "ca.pem"),
            "sasl.mechanisms": "OAUTHBEARER", "oauth_cb": oauth_cb}


def produce_and_consume(config, topic, count=10):
    producer = Producer({**config, "acks": "all"})
    acked = []
    for i in range(count):
        producer.produce(topic, value=f"v{i}", on_delivery=lambda err, msg: acked.append(err))
    producer.flush(30)
    assert len(acked) == count and not any(acked), acked[:3]
    assert sorted(consumed_values(config, topic, count)) == sorted(f"v{i}" for i in range(count))


@pytest.mark.parametrize("signer", [RSA_SIGNER, EC_SIGNER], ids=["RS256", "ES256"])
def test_signed_tokens_authenticate(oauth_broker, sasl_certs, signer):  # noqa: F811
    produce_and_consume(client_config(oauth_broker, sasl_certs, lambda: signer.token()), f"oauth-{signer.algorithm}-{uuid.uuid4().hex[:6]}")
    assert re.search(r"authenticated .*mechanism=OAUTHBEARER principal=User:carol", oauth_broker.log_path.read_text())


def refused_errors(config):
    errors, delivered = [], []
    producer = Producer({**config, "error_cb": lambda err: errors.append(err), "message.timeout.ms": 3000})
    producer.produce("never", value=b"must-not-arrive", on_delivery=lambda err, msg: delivered.append(err))
    producer.flush(6)
    assert delivered and delivered[0] is not None, "a record was delivered with a refused token"
    return errors


def hs256_token():
    now = int(time.time())
    return jwt.encode({"sub": "carol", "iss": ISSUER, "aud": AUDIENCE, "exp": now + 300}, "shared-secret-of-32-bytes-or-more!!",
                      algorithm="HS256", headers={"kid": "rsa-1"})


def unsigned_token():
    now = int(time.time())
    return jwt.encode({"sub": "carol", "iss": ISSUER, "aud": AUDIENCE, "exp": now + 300}, None, algorithm="none")


@pytest.mark.parametrize("make_token", [
    lambda: RSA_SIGNER.token(lifetime=-60),
    lambda: Signer("RS256", "rsa-1").token(),
    lambda: Signer("ES256", "stranger").token(),
    lambda: EC_SIGNER.token(aud="someone-else"),
    lambda: EC_SIGNER.token(iss="https://evil.test"),
    lambda: RSA_SIGNER.token(nbf=int(time.time()) + 600),
    hs256_token,
    unsigned_token,
], ids=["expired", "foreign-key-same-kid", "unknown-kid", "wrong-audience", "wrong-issuer", "not-yet-valid", "HS256", "alg-none"])
def test_refused_tokens_get_kafkas_invalid_token_answer(oauth_broker, sasl_certs, make_token):  # noqa: F811
    errors = refused_errors(client_config(oauth_broker, sasl_certs, make_token))
    assert any(e.code() == KafkaError._AUTHENTICATION and '{"status":"invalid_token"}' in e.str() for e in errors), \
        [e.str() for e in errors]


def test_token_expiry_bounds_the_session_and_librdkafka_reauthenticates(oauth_broker, sasl_certs):  # noqa: F811
    """Tokens live 8 s: every session's lifetime is the token's, librdkafka fetches a new token (oauth_cb) and
    re-authenticates in place with it; a producer running for more than two token lifetimes loses nothing.

    librdkafka re-authenticates at about 90% of the session but refreshes the token only around the expiry
    the application reported, so a token refreshed too late makes the re-authentication reuse the old one:
    its session lasts a few hundred ms and the next re-authentication, within a second, is refused (as Kafka
    refuses it). The callback therefore reports an expiry 3 s early, as applications with short-lived tokens
    do."""
    calls = []

    def fresh():
        calls.append(time.time())
        return RSA_SIGNER.token(sub="dave", lifetime=8)
    before = len(re.findall(r"re-authenticated .*principal=User:dave", oauth_broker.log_path.read_text()))
    expired_before = oauth_broker.log_path.read_text().count("SASL session expired")
    errors, delivered = [], []
    producer = Producer({**client_config(oauth_broker, sasl_certs, fresh, refresh_early_s=3), "error_cb": lambda err: errors.append(err),
                         "acks": "all"})
    topic = f"oauth-reauth-{uuid.uuid4().hex[:6]}"
    started, sent = time.monotonic(), 0
    while time.monotonic() - started < 18:
        producer.produce(topic, value=f"v{sent}", on_delivery=lambda err, msg: delivered.append(err))
        sent += 1
        for _ in range(4):
            producer.poll(0.05)  # oauth_cb runs from poll: call it often
    assert producer.flush(30) == 0
    assert len(delivered) == sent and not any(delivered)
    assert not errors, [e.str() for e in errors]
    log = oauth_broker.log_path.read_text()
    lifetimes = [int(v) for v in re.findall(r"authenticated .*principal=User:dave sessionLifetimeMs=(\d+)", log)]
    assert lifetimes and max(lifetimes) <= 8000 and min(lifetimes) > 2000, lifetimes
    assert len(re.findall(r"re-authenticated .*principal=User:dave", log)) - before >= 2, oauth_broker.log_tail()
    assert log.count("SASL session expired") == expired_before
    assert len(calls) >= 3


def test_a_key_added_to_the_jwks_file_is_used_without_a_restart(oauth_broker, sasl_certs):  # noqa: F811
    newcomer = Signer("ES256", "ec-2")
    config = client_config(oauth_broker, sasl_certs, lambda: newcomer.token())
    errors = refused_errors(config)
    assert any('{"status":"invalid_token"}' in e.str() for e in errors)
    write_jwks(oauth_broker.jwks, [RSA_SIGNER, EC_SIGNER, newcomer])
    deadline = time.monotonic() + 10
    while "OAUTHBEARER JWKS file reloaded" not in oauth_broker.log_path.read_text():
        assert time.monotonic() < deadline, oauth_broker.log_tail()
        time.sleep(0.1)
    produce_and_consume(config, f"oauth-rotated-{uuid.uuid4().hex[:6]}", count=3)
    # A broken file is refused and the keys in use stay.
    oauth_broker.jwks.write_text("{not json")
    deadline = time.monotonic() + 10
    while "new OAUTHBEARER JWKS file refused" not in oauth_broker.log_path.read_text():
        assert time.monotonic() < deadline, oauth_broker.log_tail()
        time.sleep(0.1)
    produce_and_consume(config, f"oauth-kept-{uuid.uuid4().hex[:6]}", count=3)
    write_jwks(oauth_broker.jwks, [RSA_SIGNER, EC_SIGNER])
