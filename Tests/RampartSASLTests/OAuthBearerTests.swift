import Foundation
@testable import RampartSASL
import Testing

/// OAUTHBEARER: JWKS parsing, token validation (signature, alg, exp, nbf, iss, aud, principal claim)
/// and the RFC 7628 exchange with Kafka's error challenge — in memory, with keys made by OpenSSL.
@Suite struct OAuthBearerTests {
    static let rsa = JWTTestSigner("RS256", keyID: "rsa-1")
    static let ec = JWTTestSigner("ES256", keyID: "ec-1")
    static let otherRSA = JWTTestSigner("RS256", keyID: "rsa-1")  // same kid, another key
    static let now: Double = 1_750_000_000

    func validator(_ signers: [JWTTestSigner] = [rsa, ec], settings: OAuthBearerValidationSettings = .init(),
                   now: Double = OAuthBearerTests.now) throws -> OAuthBearerValidator {
        let keys = try JSONWebKeySet(json: JWTTestSigner.jwks(signers))
        return OAuthBearerValidator(keys: { keys }, settings: settings, now: { now })
    }

    func rejection(_ validator: OAuthBearerValidator, _ token: String) -> OAuthBearerTokenRejection.Reason? {
        if case .failure(let rejection) = validator.validate(token) { return rejection.reason }
        return nil
    }

    @Test(arguments: ["RS256", "ES256"])
    func aGoodTokenGivesItsSubject(algorithm: String) throws {
        let signer = algorithm == "RS256" ? Self.rsa : Self.ec
        let token = signer.token(claims: claimsJSON(exp: Self.now + 300, nbf: Self.now - 10))
        let result = try validator().validate(token)
        #expect(try result.get() == ValidatedOAuthBearerToken(principalName: "alice", expiresAtMs: Int64(Self.now + 300) * 1000, lifetimeMs: 300_000))
    }

    @Test func expiryAndNotBeforeWithClockSkew() throws {
        let strict = try validator(settings: .init(clockSkewSeconds: 0))
        let skewed = try validator(settings: .init(clockSkewSeconds: 30))
        let expired = Self.rsa.token(claims: claimsJSON(exp: Self.now - 10))
        #expect(rejection(strict, expired) == .expired)
        #expect(rejection(skewed, expired) == nil)
        #expect(rejection(skewed, Self.rsa.token(claims: claimsJSON(exp: Self.now - 31))) == .expired)
        let early = Self.rsa.token(claims: claimsJSON(exp: Self.now + 600, nbf: Self.now + 20))
        #expect(rejection(strict, early) == .notYetValid)
        #expect(rejection(skewed, early) == nil)
        #expect(rejection(strict, Self.rsa.token(claims: claimsJSON(exp: nil))) == .malformed)
        #expect(rejection(strict, Self.rsa.token(claims: #"{"sub":"alice","exp":"soon"}"#)) == .malformed)
    }

    @Test func aTokenSignedByAnotherKeyIsRefused() throws {
        let validator = try validator()
        #expect(rejection(validator, Self.otherRSA.token(claims: claimsJSON(exp: Self.now + 60))) == .badSignature)
        // A key not in the set at all.
        let stranger = JWTTestSigner("ES256", keyID: "unknown")
        #expect(rejection(validator, stranger.token(claims: claimsJSON(exp: Self.now + 60))) == .unknownKey)
        // Without a kid every key of the algorithm is tried.
        let anonymous = JWTTestSigner("ES256")
        #expect(rejection(try self.validator([Self.ec, anonymous]), anonymous.token(claims: claimsJSON(exp: Self.now + 60))) == nil)
        // A tampered payload breaks the signature.
        let good = Self.ec.token(claims: claimsJSON(exp: Self.now + 60))
        let parts = good.split(separator: ".")
        let forged = parts[0] + "." + Base64URL.encode(Array(claimsJSON(sub: "admin", exp: Self.now + 60).utf8)) + "." + parts[2]
        #expect(rejection(validator, String(forged)) == .badSignature)
    }

    @Test func noneAndHMACAreRefused() throws {
        let validator = try validator()
        let claims = Base64URL.encode(Array(claimsJSON(exp: Self.now + 60).utf8))
        let none = Base64URL.encode(Array(#"{"alg":"none","typ":"JWT"}"#.utf8)) + "." + claims + "."
        #expect(rejection(validator, none) == .unsupportedAlgorithm)
        let hs256 = Self.rsa.token(claims: claimsJSON(exp: Self.now + 60), header: #"{"alg":"HS256","kid":"rsa-1"}"#)
        #expect(rejection(validator, hs256) == .unsupportedAlgorithm)
        // An RSA key's signature presented as ES256 (algorithm confusion) finds no ES256 key of that kid.
        let confused = Self.rsa.token(claims: claimsJSON(exp: Self.now + 60), header: #"{"alg":"ES256","kid":"rsa-1"}"#)
        #expect(rejection(validator, confused) != nil)
        #expect(rejection(validator, "a.b") == .malformed)
        #expect(rejection(validator, "!!.??.##") == .malformed)
    }

    @Test func audienceIssuerAndPrincipalClaim() throws {
        let settings = OAuthBearerValidationSettings(expectedAudience: ["kafka", "rampart"], expectedIssuer: "https://idp.example",
                                                     subClaimName: "preferred_username")
        let validator = try validator(settings: settings)
        func token(iss: String? = "https://idp.example", aud: [String]? = ["rampart"], user: String? = "bob") -> String {
            Self.ec.token(claims: claimsJSON(sub: "ignored", exp: Self.now + 60, iss: iss, aud: aud,
                                             extra: user.map { "\"preferred_username\":\"\($0)\"" }))
        }
        #expect(try validator.validate(token()).get().principalName == "bob")
        #expect(try validator.validate(token(aud: ["other", "kafka"])).get().principalName == "bob")
        #expect(rejection(validator, token(aud: ["other"])) == .wrongAudience)
        #expect(rejection(validator, token(aud: nil)) == .wrongAudience)
        #expect(rejection(validator, token(iss: "https://evil.example")) == .wrongIssuer)
        #expect(rejection(validator, token(iss: nil)) == .wrongIssuer)
        #expect(rejection(validator, token(user: nil)) == .noPrincipal)
        #expect(rejection(validator, token(user: "")) == .noPrincipal)
    }

    @Test func jwksParsing() throws {
        let set = try JSONWebKeySet(json: Array("""
            {"keys":[\(Self.rsa.jwk()),\(Self.ec.jwk(["use": "enc"])),{"kty":"oct","k":"c2VjcmV0"},
            \(Self.ec.jwk(["crv": "P-384"]))]}
            """.utf8))
        #expect(set.keys.map(\.keyID) == ["rsa-1"])
        #expect(set.skipped == 3)
        for (json, expected) in [
            ("not json", "not JSON"),
            (#"{"keys":{}}"#, "no \"keys\" array"),
            (#"{"keys":[{"kid":"a"}]}"#, "key \"a\": no \"kty\""),
            (#"{"keys":[{"kty":"RSA","n":"AQAB"}]}"#, "RSA key without valid base64url"),
            (#"{"keys":[{"kty":"EC","crv":"P-256","x":"AQAB","y":"AQAB"}]}"#, "EC P-256 key without 32-byte"),
            ("{\"keys\":[\(Self.ec.jwk(["y": Base64URL.encode([UInt8](repeating: 7, count: 32))]))]}", "OpenSSL refuses the public key"),
            ("{\"keys\":[\(JWTTestSigner("RS256", bits: 1024).jwk())]}", "RSA key of 1024 bits"),
        ] {
            do {
                _ = try JSONWebKeySet(json: Array(json.utf8))
                Issue.record("expected an error for \(json)")
            } catch {
                #expect(error.description.contains(expected), "\(error)")
            }
        }
    }

    // MARK: - The SASL exchange

    func exchange(_ clientFirst: [UInt8], validator: OAuthBearerValidator) -> (SASLServerStep, OAuthBearerServer) {
        let server = OAuthBearerServer(validator: validator)
        return (server.start(clientFirst: clientFirst), server)
    }

    @Test func aValidTokenAuthenticatesWithItsExpiry() throws {
        let client = OAuthBearerClient(token: Self.ec.token(claims: claimsJSON(exp: Self.now + 120)), extensions: [("traceId", "abc")])
        let (step, _) = exchange(try client.initialResponse(), validator: try validator())
        #expect(step == .success(SASLIdentity(username: "alice", credentialLifetimeMs: 120_000), finalData: []))
        #expect(try client.evaluate(challenge: []) == nil)
    }

    @Test func anInvalidTokenGetsKafkasErrorChallengeThenFails() throws {
        let client = OAuthBearerClient(token: Self.ec.token(claims: claimsJSON(exp: Self.now - 3600)))
        let (step, server) = exchange(try client.initialResponse(), validator: try validator())
        #expect(step == .challenge(Array(#"{"status":"invalid_token"}"#.utf8)))
        let acknowledgement = try #require(try client.evaluate(challenge: Array(#"{"status":"invalid_token"}"#.utf8)))
        #expect(acknowledgement == [0x01])
        guard case .failure(let failure) = server.step(response: acknowledgement) else {
            Issue.record("expected a failure")
            return
        }
        #expect(failure.reason == .invalidToken)
        #expect(failure.clientMessage == #"{"status":"invalid_token"}"#)
        #expect(failure.detail.contains("expired"))
    }

    @Test func malformedMessagesAndAuthorizationIDs() throws {
        let validator = try validator()
        let token = Self.rsa.token(claims: claimsJSON(exp: Self.now + 60))
        func message(_ text: String) -> [UInt8] { Array(text.utf8) }
        for bad in [
            "", "n,,", "n,,\u{01}auth=Bearer \(token)\u{01}", "x,,\u{01}auth=Bearer \(token)\u{01}\u{01}",
            "n,,\u{01}auth=Basic abc\u{01}\u{01}", "n,,\u{01}auth=Bearer a b\u{01}\u{01}", "n,,\u{01}user=alice\u{01}\u{01}",
            "n,,\u{01}=x\u{01}auth=Bearer \(token)\u{01}\u{01}", "n,a=,\u{01}auth=Bearer \(token)\u{01}\u{01}",
        ] {
            let (step, _) = exchange(message(bad), validator: validator)
            guard case .failure(let failure) = step else {
                Issue.record("accepted \(bad.debugDescription)")
                continue
            }
            #expect(failure.reason == .malformedMessage)
            #expect(failure.clientMessage == "Authentication failed during authentication due to invalid credentials with SASL mechanism OAUTHBEARER")
        }
        let (matching, _) = exchange(message("n,a=alice,\u{01}auth=bearer \(token)\u{01}\u{01}"), validator: validator)
        #expect(matching == .success(SASLIdentity(username: "alice", credentialLifetimeMs: 60_000), finalData: []))
        let (other, _) = exchange(message("n,a=admin,\u{01}auth=Bearer \(token)\u{01}\u{01}"), validator: validator)
        guard case .failure(let failure) = other else {
            Issue.record("an authorization id other than the principal was accepted")
            return
        }
        #expect(failure.reason == .authorizationIDMismatch)
        // After an error challenge, anything but Ctrl-A is malformed; after the end, nothing is taken.
        let (_, server) = exchange(message("n,,\u{01}auth=Bearer \(Self.rsa.token(claims: claimsJSON(exp: 1)))\u{01}\u{01}"), validator: validator)
        guard case .failure(let late) = server.step(response: [0x02]) else { Issue.record("expected a failure"); return }
        #expect(late.reason == .malformedMessage)
        guard case .failure(let after) = server.step(response: [0x01]) else { Issue.record("expected a failure"); return }
        #expect(after.reason == .unexpectedMessage)
    }
}
