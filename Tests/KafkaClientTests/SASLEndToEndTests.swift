import Foundation
import KafkaClient
import KafkaProtocol
import NIOCore
import RampartSASL
import Testing

/// The client over `security.protocol=SASL_SSL` and `SASL_PLAINTEXT` against an in-process broker:
/// SCRAM-SHA-256/512 and PLAIN, credentials from librdkafka's and Java's properties, and refusals as
/// `authentication` errors carrying the broker's message and never the password.
@Suite(.serialized) struct SASLEndToEndTests {
    let certs = ClientTestCertificates.shared
    static let alicePassword = "alice-Pass-5e1d"
    static let bobPassword = "bob-Pass-0c4b"
    static let users = [
        TestBroker.User(name: "alice", mechanism: .sha256, password: alicePassword),
        TestBroker.User(name: "alice", mechanism: .sha512, password: alicePassword),
        TestBroker.User(name: "bob", mechanism: .sha512, password: bobPassword),
    ]

    /// Runs `body` with a broker whose one listener is `securityProtocol` (SASL_SSL presents the test
    /// broker certificate), stopping it afterwards whatever happens.
    func withBroker(_ securityProtocol: String, mechanisms: String = "SCRAM-SHA-256,SCRAM-SHA-512,PLAIN",
                    extra: [String: String] = [:], _ body: (TestBroker) async throws -> Void) async throws {
        var properties = ["sasl.enabled.mechanisms": mechanisms]
        if securityProtocol == "SASL_SSL" { properties["ssl.keystore.location"] = certs.brokerKeystore }
        if securityProtocol == "SASL_PLAINTEXT" && mechanisms.contains("PLAIN") {
            properties["rampart.insecure.allow.plain.without.tls"] = "true"
        }
        try await TestBroker.run(securityProtocol: securityProtocol, extra: properties.merging(extra) { $1 }, users: Self.users, body)
    }

    /// Client properties for `broker` (TLS trusting the test CA on SASL_SSL) plus `sasl`.
    func properties(_ broker: TestBroker, _ securityProtocol: String, _ sasl: [String: String]) -> [String: String] {
        var properties = [
            "bootstrap.servers": "127.0.0.1:\(broker.port)",
            "security.protocol": securityProtocol,
            "request.timeout.ms": "15000",
            "retries": "1",
        ]
        if securityProtocol == "SASL_SSL" { properties["ssl.ca.location"] = certs.ca }
        return properties.merging(sasl) { $1 }
    }

    /// The `KafkaClientError` connecting with `properties` throws, or nil when it connects.
    func connectionError(_ properties: [String: String]) async throws -> KafkaClientError? {
        let cluster = KafkaCluster(config: try ClientConfig(properties: properties))
        defer { Task { await cluster.close() } }
        do {
            _ = try await cluster.refreshMetadata(topics: [])
            return nil
        } catch let error as KafkaClientError {
            return error
        }
    }

    @Test func scramSHA512OverSASLSSLWithLibrdkafkaNames() async throws {
        try await withBroker("SASL_SSL") { broker in
            let sasl = ["sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": "bob", "sasl.password": Self.bobPassword]
            try await withCluster(properties(broker, "SASL_SSL", sasl)) { cluster in
                try await produceAndConsume(cluster, topic: "sasl-e2e-512", count: 50)
                // The leader's connection authenticated too, over TLS.
                let leader = try await cluster.leaderConnection(for: KafkaTopicPartition(topic: "sasl-e2e-512", partition: 0))
                #expect(leader.nodeId >= 0)
                #expect(leader.saslSession?.mechanism == .scramSHA512)
                #expect(leader.saslSession?.sessionLifetimeMs == 0)
                #expect(leader.tlsSession?.protocolVersion == "TLSv1.3")
            }
        }
    }

    @Test(arguments: ["SCRAM-SHA-256", "SCRAM-SHA-512"])
    func scramOverSASLPlaintextWithJavaJAASConfig(mechanism: String) async throws {
        try await withBroker("SASL_PLAINTEXT", mechanisms: "SCRAM-SHA-256,SCRAM-SHA-512") { broker in
            let sasl = [
                "sasl.mechanism": mechanism,
                "sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"alice\" password=\"\(Self.alicePassword)\";",
            ]
            try await withCluster(properties(broker, "SASL_PLAINTEXT", sasl)) { cluster in
                let connection = try await cluster.anyConnection()
                #expect(connection.saslSession?.mechanism.name == mechanism)
                #expect(connection.tlsSession == nil)
                try await produceAndConsume(cluster, topic: "sasl-e2e-jaas-\(mechanism.lowercased())", count: 10)
            }
        }
    }

    @Test func plainOverSASLSSL() async throws {
        try await withBroker("SASL_SSL") { broker in
            let sasl = [
                "sasl.mechanism": "PLAIN",
                "sasl.jaas.config": "org.apache.kafka.common.security.plain.PlainLoginModule required username=alice password=\"\(Self.alicePassword)\";",
            ]
            try await withCluster(properties(broker, "SASL_SSL", sasl)) { cluster in
                let topics = try await KafkaAdmin(cluster: cluster).listTopics()
                #expect(topics.isEmpty)
                let connection = try await cluster.anyConnection()
                #expect(connection.saslSession?.mechanism == .plain)
            }
        }
    }

    @Test(arguments: [
        ("SCRAM-SHA-512", "alice", "wrong-Password-1"),
        ("SCRAM-SHA-256", "bob", bobPassword),  // bob has no SCRAM-SHA-256 credential
        ("SCRAM-SHA-512", "mallory", "wrong-Password-2"),
        ("PLAIN", "alice", "wrong-Password-3"),
    ])
    func badCredentialsAreAnAuthenticationErrorWithTheBrokersMessage(mechanism: String, user: String, password: String) async throws {
        try await withBroker("SASL_SSL", extra: ["connection.failed.authentication.delay.ms": "10"]) { broker in
            let sasl = ["sasl.mechanism": mechanism, "sasl.username": user, "sasl.password": password]
            let error = try #require(try await connectionError(properties(broker, "SASL_SSL", sasl)))
            #expect(error.isAuthenticationFailure, "\(error)")
            #expect(error.code == .saslAuthenticationFailed)
            let expected = mechanism == "PLAIN" ? "Authentication failed: Invalid username or password"
                : "Authentication failed during authentication due to invalid credentials with SASL mechanism \(mechanism)"
            #expect(error.message == "SASL authentication with 127.0.0.1:\(broker.port) failed (\(mechanism)): SASL_AUTHENTICATION_FAILED: \(expected)")
            #expect(!error.message.contains(password))
        }
    }

    @Test func aMechanismTheListenerDoesNotOfferIsNamedWithTheOffer() async throws {
        try await withBroker("SASL_PLAINTEXT", mechanisms: "SCRAM-SHA-512") { broker in
            let sasl = ["sasl.mechanism": "SCRAM-SHA-256", "sasl.username": "alice", "sasl.password": Self.alicePassword]
            let error = try #require(try await connectionError(properties(broker, "SASL_PLAINTEXT", sasl)))
            #expect(error.isAuthenticationFailure)
            #expect(error.code == .unsupportedSaslMechanism)
            #expect(error.message.contains("does not accept SASL mechanism SCRAM-SHA-256 (it offers SCRAM-SHA-512)"), "\(error)")
        }
    }

    @Test func saslAgainstAListenerWithoutSASLFails() async throws {
        let broker = try await TestBroker.start()
        defer { Task { await broker.stop() } }
        let sasl = ["sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "alice", "sasl.password": Self.alicePassword]
        let error = try #require(try await connectionError(properties(broker, "SASL_PLAINTEXT", sasl)))
        #expect(error.isAuthenticationFailure)
        #expect(error.code == .illegalSaslState, "\(error)")
    }

    @Test func missingSettingsFailBeforeConnecting() async throws {
        for (sasl, expected) in [
            ([String: String](), "sasl.mechanism is not set"),
            (["sasl.mechanism": "PLAIN"], "needs a user name"),
            (["sasl.mechanism": "PLAIN", "sasl.username": "alice"], "needs a password"),
        ] {
            let properties = ["bootstrap.servers": "127.0.0.1:1", "security.protocol": "SASL_PLAINTEXT"].merging(sasl) { $1 }
            let error = try #require(try await connectionError(properties))
            #expect(error.isSameKind(as: .configuration("")))
            #expect(error.message.contains(expected), "\(error)")
        }
    }

    @Test func theClientReauthenticatesInPlaceBeforeTheSessionEnds() async throws {
        try await withBroker("SASL_SSL", extra: ["connections.max.reauth.ms": "1500"]) { broker in
            let sasl = ["sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "bob", "sasl.password": Self.bobPassword]
            try await withCluster(properties(broker, "SASL_SSL", sasl)) { cluster in
                try await KafkaAdmin(cluster: cluster).createTopic("reauth", partitions: 1, replicationFactor: 1)
                let producer = KafkaProducer(cluster: cluster, config: ProducerConfig(acks: -1))
                let leader = try await cluster.leaderConnection(for: KafkaTopicPartition(topic: "reauth", partition: 0))
                let first = try #require(leader.saslSession)
                #expect(first.sessionLifetimeMs == 1500)
                // Four lifetimes of steady traffic on the same connection.
                let deadline = ContinuousClock.now + .seconds(6)
                var sent = 0
                while ContinuousClock.now < deadline {
                    _ = try await producer.send([ProducerRecord(topic: "reauth", key: "k", value: "v\(sent)")])
                    sent += 1
                    try await Task.sleep(for: .milliseconds(100))
                }
                let same = try await cluster.leaderConnection(for: KafkaTopicPartition(topic: "reauth", partition: 0))
                #expect(same === leader && leader.isActive)
                let last = try #require(leader.saslSession)
                #expect(last.authenticatedAt - first.authenticatedAt >= .seconds(3))
                #expect(last.sessionLifetimeMs == 1500)
                let offsets = try await KafkaAdmin(cluster: cluster).listOffsets([KafkaTopicPartition(topic: "reauth", partition: 0)], spec: .latest)
                #expect(offsets.values.first == Int64(sent))
            }
        }
    }
}
