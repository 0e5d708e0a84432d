import KafkaProtocol
import NIOCore
import RampartBroker
import RampartSASL
import Testing

/// The authentication phase of a SASL connection, frame by frame, without sockets.
@Suite struct SaslAuthenticatorTests {
    func respond(_ outcome: SaslServerAuthenticator.Outcome, sourceLocation: SourceLocation = #_sourceLocation) -> ByteBuffer? {
        if case .respond(let bytes) = outcome { return bytes }
        Issue.record("expected a response, got \(outcome)", sourceLocation: sourceLocation)
        return nil
    }

    /// Handshake v1 + SaslAuthenticate at `version` with the Swift SCRAM client.
    func scramLogin(_ authenticator: SaslServerAuthenticator, mechanism: SCRAMMechanism, user: String, password: String,
                    authenticateVersion: Int16) async throws -> (SaslServerAuthenticator.Outcome, SCRAMClient) {
        let handshake = await authenticator.receive(try requestFrame(SaslHandshakeRequest(mechanism: mechanism.name), version: 1), connection: saslConnection)
        let handshakeBytes = try #require(respond(handshake))
        let (_, handshakeResponse) = try SaslHandshakeResponse.decodeResponse(from: handshakeBytes, version: 1)
        #expect(handshakeResponse.errorCode == 0)
        #expect(handshakeResponse.mechanisms == ["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"])

        let client = SCRAMClient(mechanism: mechanism, username: user, password: SASLPassword(password))
        let first = await authenticator.receive(
            try requestFrame(SaslAuthenticateRequest(authBytes: ByteBuffer(bytes: try client.initialResponse())), version: authenticateVersion, correlationId: 2),
            connection: saslConnection)
        let firstBytes = try #require(respond(first))
        let (header, serverFirst) = try SaslAuthenticateResponse.decodeResponse(from: firstBytes, version: authenticateVersion)
        #expect(header.correlationId == 2)
        #expect(serverFirst.errorCode == 0)
        let final = try #require(try client.evaluate(challenge: Array(buffer: serverFirst.authBytes)))
        let outcome = await authenticator.receive(
            try requestFrame(SaslAuthenticateRequest(authBytes: ByteBuffer(bytes: final)), version: authenticateVersion, correlationId: 3),
            connection: saslConnection)
        return (outcome, client)
    }

    @Test(arguments: [(SCRAMMechanism.sha256, Int16(0)), (.sha512, 1), (.sha256, 2)])
    func scramLoginGivesTheUserPrincipal(mechanism: SCRAMMechanism, version: Int16) async throws {
        let fixture = try await BrokerFixture.make()
        defer { Task { await fixture.close() } }
        let authenticator = makeAuthenticator(fixture)
        // ApiVersions first, as librdkafka and kafka-python do.
        let versions = await authenticator.receive(try requestFrame(ApiVersionsRequest(clientSoftwareName: "t", clientSoftwareVersion: "1"), version: 3),
                                                   connection: saslConnection)
        let (_, apiVersions) = try ApiVersionsResponse.decodeResponse(from: try #require(respond(versions)), version: 3)
        let sasl = apiVersions.apiKeys.filter { $0.apiKey == 17 || $0.apiKey == 36 }.map { [$0.apiKey, $0.minVersion, $0.maxVersion] }
        #expect(sasl == [[17, 0, 1], [36, 0, 2]])

        let (outcome, client) = try await scramLogin(authenticator, mechanism: mechanism, user: "alice", password: "alice-secret",
                                                     authenticateVersion: version)
        guard case .authenticated(let response, let session) = outcome else {
            Issue.record("expected success, got \(outcome)")
            return
        }
        #expect(session == SaslSession(principal: KafkaPrincipal(name: "alice"), mechanism: mechanism.saslMechanism, lifetimeMs: 0))
        let (_, final) = try SaslAuthenticateResponse.decodeResponse(from: try #require(response), version: version)
        #expect(final.errorCode == 0)
        #expect(try client.evaluate(challenge: Array(buffer: final.authBytes)) == nil)  // the server proved itself
        // Nothing more goes through the authenticator.
        guard case .close = await authenticator.receive(try requestFrame(MetadataRequest(), version: 1), connection: saslConnection) else {
            Issue.record("a finished authenticator took a request")
            return
        }
    }

    @Test(arguments: [("alice", "wrong"), ("nobody", "alice-secret"), ("bob", "alice-secret")])
    func badCredentialsFailWithKafkasMessage(user: String, password: String) async throws {
        let fixture = try await BrokerFixture.make()
        defer { Task { await fixture.close() } }
        let (outcome, _) = try await scramLogin(makeAuthenticator(fixture), mechanism: .sha512, user: user, password: password,
                                                authenticateVersion: 1)
        guard case .failed(let response, _) = outcome else {
            Issue.record("expected failure, got \(outcome)")
            return
        }
        let (_, body) = try SaslAuthenticateResponse.decodeResponse(from: try #require(response), version: 1)
        #expect(body.errorCode == KafkaErrorCode.saslAuthenticationFailed.rawValue)
        #expect(body.errorMessage == "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512")
    }

    @Test func plainOverSaslAuthenticate() async throws {
        let fixture = try await BrokerFixture.make()
        defer { Task { await fixture.close() } }
        for (password, ok) in [("alice-secret", true), ("nope", false)] {
            let authenticator = makeAuthenticator(fixture)
            _ = await authenticator.receive(try requestFrame(SaslHandshakeRequest(mechanism: "PLAIN"), version: 1), connection: saslConnection)
            let token = try PLAINClient(username: "alice", password: SASLPassword(password)).initialResponse()
            let outcome = await authenticator.receive(try requestFrame(SaslAuthenticateRequest(authBytes: ByteBuffer(bytes: token)), version: 2),
                                                      connection: saslConnection)
            switch (outcome, ok) {
            case (.authenticated(_, let session), true):
                #expect(session.principal.description == "User:alice")
            case (.failed(let response, _), false):
                let (_, body) = try SaslAuthenticateResponse.decodeResponse(from: try #require(response), version: 2)
                #expect(body.errorCode == 58 && body.errorMessage == "Authentication failed: Invalid username or password")
            default:
                Issue.record("unexpected \(outcome) for \(ok ? "good" : "bad") password")
            }
        }
    }

    @Test func handshakeV0TakesRawTokens() async throws {
        let fixture = try await BrokerFixture.make()
        defer { Task { await fixture.close() } }
        // SCRAM: raw client-first, raw server-first back, raw client-final, raw server-final back.
        let authenticator = makeAuthenticator(fixture)
        _ = try #require(respond(await authenticator.receive(try requestFrame(SaslHandshakeRequest(mechanism: "SCRAM-SHA-256"), version: 0),
                                                             connection: saslConnection)))
        let client = SCRAMClient(mechanism: .sha256, username: "alice", password: SASLPassword("alice-secret"))
        let serverFirst = try #require(respond(await authenticator.receive(ByteBuffer(bytes: try client.initialResponse()), connection: saslConnection)))
        let final = try #require(try client.evaluate(challenge: Array(buffer: serverFirst)))
        guard case .authenticated(let response, let session) = await authenticator.receive(ByteBuffer(bytes: final), connection: saslConnection) else {
            Issue.record("raw SCRAM did not authenticate")
            return
        }
        #expect(session.principal.name == "alice")
        #expect(try client.evaluate(challenge: Array(buffer: try #require(response))) == nil)

        // PLAIN: one raw token, an empty raw frame back; a bad password closes without an answer.
        let plain = makeAuthenticator(fixture)
        _ = await plain.receive(try requestFrame(SaslHandshakeRequest(mechanism: "PLAIN"), version: 0), connection: saslConnection)
        guard case .authenticated(let empty, _) = await plain.receive(ByteBuffer(bytes: [0] + Array("alice".utf8) + [0] + Array("alice-secret".utf8)),
                                                                      connection: saslConnection) else {
            Issue.record("raw PLAIN did not authenticate")
            return
        }
        #expect(empty?.readableBytes == 0)
        let refused = makeAuthenticator(fixture)
        _ = await refused.receive(try requestFrame(SaslHandshakeRequest(mechanism: "PLAIN"), version: 0), connection: saslConnection)
        guard case .failed(nil, _) = await refused.receive(ByteBuffer(bytes: [0, 0x61, 0, 0x62]), connection: saslConnection) else {
            Issue.record("raw PLAIN with a bad password did not fail without an answer")
            return
        }
    }

    @Test func unsupportedMechanismListsTheEnabledOnes() async throws {
        let fixture = try await BrokerFixture.make()
        defer { Task { await fixture.close() } }
        let authenticator = makeAuthenticator(fixture, mechanisms: [.scramSHA512])
        for name in ["GSSAPI", "PLAIN", "scram-sha-512"] {
            let outcome = await makeAuthenticator(fixture, mechanisms: [.scramSHA512])
                .receive(try requestFrame(SaslHandshakeRequest(mechanism: name), version: 1), connection: saslConnection)
            guard case .failed(let response, _) = outcome else {
                Issue.record("\(name): expected failure, got \(outcome)")
                continue
            }
            let (_, body) = try SaslHandshakeResponse.decodeResponse(from: try #require(response), version: 1)
            #expect(body.errorCode == KafkaErrorCode.unsupportedSaslMechanism.rawValue)
            #expect(body.mechanisms == ["SCRAM-SHA-512"])
        }
        _ = authenticator
    }

    @Test func requestsOutOfOrder() async throws {
        let fixture = try await BrokerFixture.make()
        defer { Task { await fixture.close() } }
        // Anything but ApiVersions/SaslHandshake/SaslAuthenticate before authentication: closed, no answer.
        for request in [try requestFrame(MetadataRequest(), version: 4), try requestFrame(ProduceRequest(), version: 3),
                        try requestFrame(ListGroupsRequest(), version: 1)] {
            guard case .close = await makeAuthenticator(fixture).receive(request, connection: saslConnection) else {
                Issue.record("a request before authentication was not refused")
                continue
            }
        }
        // SaslAuthenticate before SaslHandshake: ILLEGAL_SASL_STATE, then the close.
        let early = await makeAuthenticator(fixture).receive(try requestFrame(SaslAuthenticateRequest(authBytes: ByteBuffer(string: "n,,n=a,r=b")), version: 1),
                                                            connection: saslConnection)
        guard case .failed(let response, _) = early else {
            Issue.record("SaslAuthenticate before the handshake: \(early)")
            return
        }
        let (_, body) = try SaslAuthenticateResponse.decodeResponse(from: try #require(response), version: 1)
        #expect(body.errorCode == KafkaErrorCode.illegalSaslState.rawValue)

        // A second handshake, ApiVersions after the handshake, a second ApiVersions: refused.
        let twice = makeAuthenticator(fixture)
        _ = await twice.receive(try requestFrame(SaslHandshakeRequest(mechanism: "PLAIN"), version: 1), connection: saslConnection)
        guard case .failed = await twice.receive(try requestFrame(SaslHandshakeRequest(mechanism: "PLAIN"), version: 1), connection: saslConnection) else {
            Issue.record("a second handshake was accepted")
            return
        }
        let late = makeAuthenticator(fixture)
        _ = await late.receive(try requestFrame(SaslHandshakeRequest(mechanism: "PLAIN"), version: 1), connection: saslConnection)
        guard case .close = await late.receive(try requestFrame(ApiVersionsRequest(), version: 0), connection: saslConnection) else {
            Issue.record("ApiVersions after the handshake was accepted")
            return
        }
        let versions = makeAuthenticator(fixture)
        _ = await versions.receive(try requestFrame(ApiVersionsRequest(), version: 0), connection: saslConnection)
        guard case .close = await versions.receive(try requestFrame(ApiVersionsRequest(), version: 0), connection: saslConnection) else {
            Issue.record("a second ApiVersions was accepted")
            return
        }
    }

    @Test func garbageAndFloodsClose() async throws {
        let fixture = try await BrokerFixture.make()
        defer { Task { await fixture.close() } }
        for bytes: [UInt8] in [[], [0, 17], [0x7F, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0], [0, 17, 0, 1, 0, 0, 0, 1, 0xFF, 0xFF, 0x7F]] {
            guard case .close = await makeAuthenticator(fixture).receive(ByteBuffer(bytes: bytes), connection: saslConnection) else {
                Issue.record("garbage \(bytes) was not refused")
                continue
            }
        }
        // ApiVersions at a version beyond the schema is answered (v0 error body) without ending the phase,
        // but only a bounded number of requests is taken before authentication.
        var future = ByteBuffer()
        future.writeInteger(Int16(18), endianness: .big)
        future.writeInteger(Int16(99), endianness: .big)
        future.writeInteger(Int32(7), endianness: .big)
        future.writeInteger(Int16(-1), endianness: .big)
        let flooded = makeAuthenticator(fixture)
        for _ in 0..<16 {
            guard case .respond = await flooded.receive(future, connection: saslConnection) else {
                Issue.record("ApiVersions with a future version was not answered")
                return
            }
        }
        guard case .close = await flooded.receive(future, connection: saslConnection) else {
            Issue.record("the 17th request before authentication was taken")
            return
        }
        // Garbage inside SCRAM messages fails the exchange with the usual answer.
        let garbage = makeAuthenticator(fixture)
        _ = await garbage.receive(try requestFrame(SaslHandshakeRequest(mechanism: "SCRAM-SHA-256"), version: 1), connection: saslConnection)
        guard case .failed(let response, _) = await garbage.receive(
            try requestFrame(SaslAuthenticateRequest(authBytes: ByteBuffer(bytes: (0..<5000).map { UInt8($0 & 0xFF) })), version: 1),
            connection: saslConnection) else {
            Issue.record("garbage SCRAM was not refused")
            return
        }
        let (_, body) = try SaslAuthenticateResponse.decodeResponse(from: try #require(response), version: 1)
        #expect(body.errorCode == 58)
    }

    @Test func outsideAuthenticationSaslRequestsGetIllegalState() async throws {
        let fixture = try await BrokerFixture.make()
        defer { Task { await fixture.close() } }
        let handshake = try await fixture.send(SaslHandshakeRequest(mechanism: "PLAIN"), version: 1)
        #expect(handshake.errorCode == KafkaErrorCode.illegalSaslState.rawValue)
        let authenticate = try await fixture.send(SaslAuthenticateRequest(authBytes: ByteBuffer(string: "x")), version: 2)
        #expect(authenticate.errorCode == KafkaErrorCode.illegalSaslState.rawValue)
        #expect(authenticate.errorMessage == "SaslAuthenticate request received after successful authentication")
    }

    /// A SaslHandshake at `version` then SaslAuthenticate v1 messages from `client` until an outcome
    /// other than a challenge.
    func login(_ authenticator: SaslServerAuthenticator, _ client: any SASLClientMechanism, handshakeVersion: Int16 = 1) async throws
        -> SaslServerAuthenticator.Outcome {
        let handshake = await authenticator.receive(try requestFrame(SaslHandshakeRequest(mechanism: client.mechanism.name), version: handshakeVersion),
                                                    connection: saslConnection)
        guard case .respond = handshake else { return handshake }
        var token = try client.initialResponse()
        while true {
            let outcome = await authenticator.receive(try requestFrame(SaslAuthenticateRequest(authBytes: ByteBuffer(bytes: token)), version: 1),
                                                      connection: saslConnection)
            guard case .respond(let bytes) = outcome else { return outcome }
            let (_, response) = try SaslAuthenticateResponse.decodeResponse(from: bytes, version: 1)
            token = try #require(try client.evaluate(challenge: Array(buffer: response.authBytes)))
        }
    }

    func scram(_ user: String, _ password: String, _ mechanism: SCRAMMechanism = .sha512) -> SCRAMClient {
        SCRAMClient(mechanism: mechanism, username: user, password: SASLPassword(password))
    }

    func authenticateResponse(_ outcome: SaslServerAuthenticator.Outcome) throws -> SaslAuthenticateResponse? {
        switch outcome {
        case .authenticated(let response?, _), .failed(let response?, _):
            return try SaslAuthenticateResponse.decodeResponse(from: response, version: 1).1
        default:
            return nil
        }
    }

    @Test func reauthenticationKeepsThePrincipalAndRenewsTheLifetime() async throws {
        let fixture = try await BrokerFixture.make()
        defer { Task { await fixture.close() } }
        let authenticator = makeAuthenticator(fixture, reauthMs: 5000)
        let first = try await login(authenticator, scram("alice", "alice-secret"))
        guard case .authenticated(_, let session) = first else { Issue.record("\(first)"); return }
        #expect(session == SaslSession(principal: KafkaPrincipal(name: "alice"), mechanism: .scramSHA512, lifetimeMs: 5000))
        #expect(try authenticateResponse(first)?.sessionLifetimeMs == 5000)
        // Twice more: the same user may re-authenticate any number of times.
        for _ in 0..<2 {
            let again = try await login(authenticator, scram("alice", "alice-secret"))
            guard case .authenticated(_, let renewed) = again else { Issue.record("\(again)"); return }
            #expect(renewed == session)
        }
    }

    @Test func reauthenticationRefusals() async throws {
        let fixture = try await BrokerFixture.make()
        defer { Task { await fixture.close() } }
        func authenticated() async throws -> SaslServerAuthenticator {
            let authenticator = makeAuthenticator(fixture, reauthMs: 5000)
            guard case .authenticated = try await login(authenticator, scram("alice", "alice-secret")) else { throw CancellationError() }
            return authenticator
        }
        // Another principal.
        let other = try await login(try await authenticated(), scram("bob", "bob-secret"))
        guard case .failed(_, let reason) = other else { Issue.record("\(other)"); return }
        #expect(reason == "Cannot change principals during re-authentication from User:alice: User:bob")
        #expect(try authenticateResponse(other)?.errorMessage == reason)
        // A wrong password: Kafka's message says re-authentication.
        let wrong = try await login(try await authenticated(), scram("alice", "nope"))
        #expect(try authenticateResponse(wrong)?.errorMessage
                == "Authentication failed during re-authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512")
        // Another mechanism.
        let plain = try await login(try await authenticated(), PLAINClient(username: "alice", password: SASLPassword("alice-secret")))
        guard case .failed(let response?, _) = plain else { Issue.record("\(plain)"); return }
        #expect(try SaslHandshakeResponse.decodeResponse(from: response, version: 1).1.errorCode == KafkaErrorCode.unsupportedSaslMechanism.rawValue)
        // SaslHandshake v0 (raw tokens) cannot re-authenticate.
        let raw = try await login(try await authenticated(), scram("alice", "alice-secret"), handshakeVersion: 0)
        guard case .failed(let rawResponse?, _) = raw else { Issue.record("\(raw)"); return }
        #expect(try SaslHandshakeResponse.decodeResponse(from: rawResponse, version: 0).1.errorCode == KafkaErrorCode.illegalSaslState.rawValue)
        // ApiVersions is not part of a re-authentication.
        let versions = await (try await authenticated()).receive(try requestFrame(ApiVersionsRequest(), version: 3), connection: saslConnection)
        guard case .close = versions else { Issue.record("\(versions)"); return }
    }
}
