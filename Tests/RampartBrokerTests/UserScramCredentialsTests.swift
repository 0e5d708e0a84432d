import KafkaProtocol
import NIOCore
import RampartBroker
import RampartMetadata
import RampartSASL
import Testing

/// Online user management: DescribeUserScramCredentials and AlterUserScramCredentials.
@Suite struct UserScramCredentialsTests {
    static let admin = KafkaPrincipal(name: "admin")

    func fixture(tlsListener: Bool = true) async throws -> BrokerFixture {
        // The authorizer on, nothing granted: only the super user may describe and alter users.
        try await BrokerFixture.make(authorizer: Authorizer(config: AuthorizerConfig(superUsers: [Self.admin]))) { settings in
            settings.encryptedListeners = tlsListener ? ["PLAINTEXT"] : []
        }
    }

    func send<R: KafkaRequestMessage>(_ fixture: BrokerFixture, _ request: R, as principal: KafkaPrincipal = admin) async throws -> R.Response {
        let handler = try unwrap(fixture.registry[R.apiKey], "no handler")
        let context = RequestContext(apiKey: R.apiKey, apiVersion: 0, correlationId: 1, clientId: "t", principal: principal,
                                     clientHost: "127.0.0.1", listenerName: "PLAINTEXT")
        let response = try unwrap(await handler.handle(request, context: context), "no response") as! R.Response
        var wire = ByteBuffer()
        try response.encode(to: &wire, version: 0)
        return try R.Response(from: &wire, version: 0)
    }

    func upsertion(_ user: String, _ mechanism: SCRAMMechanism, _ password: String, iterations: Int32 = 4096,
                   salt: [UInt8] = Array("0123456789abcdef".utf8)) -> AlterUserScramCredentialsRequest.ScramCredentialUpsertion {
        let salted = SCRAMCredential.saltedPassword(SASLPassword(password), salt: salt, iterations: Int(iterations), mechanism: mechanism)
        return .init(name: user, mechanism: mechanism == .sha256 ? 1 : 2, iterations: iterations,
                     salt: ByteBuffer(bytes: salt), saltedPassword: ByteBuffer(bytes: salted))
    }

    @Test func upsertDescribeDeleteAndLogIn() async throws {
        let fixture = try await fixture()
        defer { Task { await fixture.close() } }
        let alter = try await send(fixture, AlterUserScramCredentialsRequest(upsertions: [
            upsertion("alice", .sha256, "pw-a"), upsertion("alice", .sha512, "pw-a", iterations: 8192), upsertion("bob", .sha512, "pw-b"),
        ]))
        #expect(alter.results.map(\.user) == ["alice", "bob"])
        #expect(alter.results.allSatisfy { $0.errorCode == 0 })

        // The stored credential is the one the client derived: the password logs in.
        let lookup = await fixture.broker.scramCredentialSnapshot()
        #expect(lookup("alice", .sha512)?.iterations == 8192)
        #expect(lookup("alice", .sha256)?.matches(password: SASLPassword("pw-a")) == true)
        #expect(lookup("bob", .sha512)?.matches(password: SASLPassword("pw-b")) == true)

        let all = try await send(fixture, DescribeUserScramCredentialsRequest(users: nil))
        #expect(all.errorCode == 0)
        #expect(all.results.map(\.user) == ["alice", "bob"])
        #expect(all.results[0].credentialInfos.map { [Int32($0.mechanism), $0.iterations] } == [[1, 4096], [2, 8192]])

        let some = try await send(fixture, DescribeUserScramCredentialsRequest(users: [.init(name: "bob"), .init(name: "carol"),
                                                                                       .init(name: "alice"), .init(name: "alice")]))
        #expect(some.results.map { [$0.user, "\($0.errorCode)"] } == [["bob", "0"], ["carol", "91"], ["alice", "92"]])

        let delete = try await send(fixture, AlterUserScramCredentialsRequest(deletions: [
            .init(name: "alice", mechanism: 1), .init(name: "bob", mechanism: 1),
        ]))
        #expect(delete.results.map { [$0.user, "\($0.errorCode)"] } == [["alice", "0"], ["bob", "91"]])
        let after = await fixture.broker.scramCredentialSnapshot()
        #expect(after("alice", .sha256) == nil && after("alice", .sha512) != nil && after("bob", .sha512) != nil)
    }

    /// A stored credential that does not decode (keys of the wrong size) serves no login, like an
    /// unknown user (the snapshot logs it as an error).
    @Test func aDamagedStoredCredentialServesNoLogin() async throws {
        let fixture = try await fixture()
        defer { Task { await fixture.close() } }
        _ = try await fixture.broker.metadata.update { image in
            image.scramCredentials["mallory"] = [SCRAMMechanism.sha512.name: StoredSCRAMCredential(salt: "c2FsdA==", iterations: 4096, storedKey: "AAAA", serverKey: "BBBB")]
        }
        let lookup = await fixture.broker.scramCredentialSnapshot()
        #expect(lookup("mallory", .sha512) == nil)
    }

    /// An unknown user's decoy has the shape of the stored credentials (iterations and salt length),
    /// and the broker keeps one decoy key: the same unknown name gets the same salt from every snapshot.
    @Test func decoysFollowTheStoredCredentials() async throws {
        let fixture = try await fixture()
        defer { Task { await fixture.close() } }
        let credential = try SCRAMCredential.generate(password: SASLPassword("pw"), mechanism: .sha512, iterations: 8192,
                                                      salt: Array(repeating: 7, count: 20))
        _ = try await fixture.broker.metadata.update { image in
            image.scramCredentials["alice"] = [SCRAMMechanism.sha512.name: StoredSCRAMCredential(credential)]
        }
        let first = await fixture.broker.scramCredentialSnapshot().decoy("ghost", .sha512)
        #expect(first.iterations == 8192 && first.salt.count == 20)
        #expect(await fixture.broker.scramCredentialSnapshot().decoy("ghost", .sha512) == first)
    }

    /// The decoy key is kept in the metadata: a broker started again on it (here: a second broker on
    /// the same store) gives an unknown name the same decoy, so a restart does not tell unknown names
    /// from known ones. Storing the key again keeps the first.
    @Test func theDecoyKeySurvivesARestart() async throws {
        let fixture = try await fixture()
        defer { Task { await fixture.close() } }
        let broker = fixture.broker
        try await broker.ensureSCRAMDecoyKey()
        let key = await broker.metadata.current().scramDecoyKey
        #expect(key != nil)
        try await broker.ensureSCRAMDecoyKey()
        #expect(await broker.metadata.current().scramDecoyKey == key)
        let restarted = Broker(settings: broker.settings, metadata: broker.metadata, logs: broker.logs, producerIDBlockEnd: 0,
                               logger: broker.logger, clock: broker.clock)
        let before = await broker.scramCredentialSnapshot().decoy("ghost", .sha512)
        #expect(await restarted.scramCredentialSnapshot().decoy("ghost", .sha512) == before)
    }

    @Test func validationErrorsAreKafkas() async throws {
        let fixture = try await fixture()
        defer { Task { await fixture.close() } }
        var unknownMechanism = upsertion("u1", .sha256, "pw")
        unknownMechanism.mechanism = 9
        var shortSalted = upsertion("u4", .sha512, "pw")
        shortSalted.saltedPassword = ByteBuffer(bytes: [1, 2, 3])
        let response = try await send(fixture, AlterUserScramCredentialsRequest(
            deletions: [.init(name: "u5", mechanism: 1)],
            upsertions: [unknownMechanism, upsertion("u2", .sha256, "pw", iterations: 4095), upsertion("u3", .sha256, "pw", iterations: 16385),
                         shortSalted, upsertion("u5", .sha256, "pw"), upsertion("", .sha256, "pw"), upsertion("ok", .sha256, "pw")]))
        let codes = Dictionary(uniqueKeysWithValues: response.results.map { ($0.user, ($0.errorCode, $0.errorMessage ?? "")) })
        #expect(codes["u1"]?.0 == KafkaErrorCode.unsupportedSaslMechanism.rawValue)
        #expect(codes["u2"]! == (KafkaErrorCode.unacceptableCredential.rawValue, "Too few iterations"))
        #expect(codes["u3"]! == (KafkaErrorCode.unacceptableCredential.rawValue, "Too many iterations"))
        #expect(codes["u4"]?.0 == KafkaErrorCode.unacceptableCredential.rawValue)
        #expect(codes["u5"]?.0 == KafkaErrorCode.duplicateResource.rawValue)
        #expect(codes[""]?.0 == KafkaErrorCode.unacceptableCredential.rawValue)
        #expect(codes["ok"]?.0 == 0)
        let stored = await fixture.broker.metadata.current().scramCredentials
        #expect(stored.keys.sorted() == ["ok"])
    }

    @Test func onlySuperUsersAndOnlyOverTLS() async throws {
        let fixture = try await fixture()
        defer { Task { await fixture.close() } }
        let mallory = KafkaPrincipal(name: "mallory")
        let refused = try await send(fixture, AlterUserScramCredentialsRequest(upsertions: [upsertion("mallory", .sha256, "pw")]), as: mallory)
        #expect(refused.results.map(\.errorCode) == [KafkaErrorCode.clusterAuthorizationFailed.rawValue])
        #expect(try await send(fixture, DescribeUserScramCredentialsRequest(users: nil), as: mallory).errorCode
            == KafkaErrorCode.clusterAuthorizationFailed.rawValue)

        let plaintext = try await self.fixture(tlsListener: false)
        defer { Task { await plaintext.close() } }
        let overPlaintext = try await send(plaintext, AlterUserScramCredentialsRequest(upsertions: [upsertion("alice", .sha256, "pw")]))
        #expect(overPlaintext.results.map(\.errorCode) == [KafkaErrorCode.clusterAuthorizationFailed.rawValue])
        #expect(overPlaintext.results.first?.errorMessage?.contains("only over TLS") == true)
        #expect(await plaintext.broker.metadata.current().scramCredentials.isEmpty)
    }
}
