import Foundation
import KafkaClient
import NIOCore
import NIOPosix
import RampartTLS
import Testing

/// The client over `security.protocol=SSL` against an in-process broker with an SSL listener:
/// CA and host name verification, refusals with a clear error, mTLS, the handshake timeout.
@Suite(.serialized) struct TLSEndToEndTests {
    let certs = ClientTestCertificates.shared

    /// Runs `body` with a broker whose SSL listener presents `keystore`; with `clientAuth` it asks for
    /// client certificates from `ca`. The broker is stopped afterwards whatever happens.
    func withSSLBroker(keystore: String, clientAuth: String = "none", extra: [String: String] = [:],
                       _ body: (TestBroker) async throws -> Void) async throws {
        try await TestBroker.run(securityProtocol: "SSL", extra: [
            "ssl.keystore.location": keystore,
            "ssl.truststore.location": certs.ca,
            "ssl.client.auth": clientAuth,
        ].merging(extra) { $1 }, body)
    }

    /// Client properties for SSL against `broker` via `host`, trusting `ca`.
    func sslProperties(_ broker: TestBroker, host: String = "127.0.0.1", ca: String? = nil) -> [String: String] {
        [
            "bootstrap.servers": "\(host):\(broker.port)",
            "security.protocol": "SSL",
            "ssl.ca.location": ca ?? certs.ca,
            "request.timeout.ms": "15000",
            "socket.connection.setup.timeout.ms": "5000",
            "retries": "1",
        ]
    }

    /// The error `body` throws, as text, or nil when it succeeds.
    func failure(_ body: () async throws -> Void) async -> String? {
        do {
            try await body()
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// Produces `count` records (LZ4) to a new topic and reads them back by assignment.
    func roundTrip(_ cluster: KafkaCluster, topic: String, count: Int = 100) async throws {
        try await produceAndConsume(cluster, topic: topic, count: count, producerConfig: ProducerConfig(acks: -1, compression: .lz4))
    }

    @Test func produceAndConsumeWithCAAndHostnameVerification() async throws {
        try await withSSLBroker(keystore: certs.brokerKeystore) { broker in
            try await withCluster(sslProperties(broker)) { cluster in
                #expect(cluster.config.tls.verifyHostname)
                try await roundTrip(cluster, topic: "tls-e2e")
                // Per-broker connections (leader, coordinator) go through TLS too.
                let leader = try await cluster.leaderConnection(for: KafkaTopicPartition(topic: "tls-e2e", partition: 0))
                #expect(leader.nodeId >= 0)
                #expect(leader.tlsSession?.protocolVersion == "TLSv1.3")
                #expect(leader.tlsSession?.peerSubject == "CN=localhost")
            }
            // Through "localhost" too (the certificate names both), with Java's property names.
            try await withCluster([
                "bootstrap.servers": "localhost:\(broker.port)", "security.protocol": "SSL",
                "ssl.truststore.type": "PEM", "ssl.truststore.location": certs.ca, "ssl.endpoint.identification.algorithm": "https",
                "ssl.enabled.protocols": "TLSv1.2",
            ]) { cluster in
                let connection = try await cluster.anyConnection()
                #expect(connection.tlsSession?.protocolVersion == "TLSv1.2")
                #expect(try await KafkaAdmin(cluster: cluster).listTopics().contains("tls-e2e"))
            }
        }
    }

    @Test func largeRequestsThenSmallOnesArePromptlyAnswered() async throws {
        try await withSSLBroker(keystore: certs.brokerKeystore) { broker in
            try await withCluster(sslProperties(broker)) { cluster in
                try await largeRequestsThenSmallOnes(cluster, topic: "tls-large-then-small")
            }
        }
    }

    @Test func hostnameMismatchIsRefusedWithAClearError() async throws {
        try await withSSLBroker(keystore: certs.elsewhereKeystore) { broker in
            for host in ["localhost", "127.0.0.1"] {
                let error = await failure {
                    try await withCluster(sslProperties(broker, host: host)) { _ = try await $0.refreshMetadata(topics: []) }
                }
                let expected = host == "localhost" ? "hostname mismatch" : "IP address mismatch"
                #expect(error?.contains("cannot connect to \(host):\(broker.port) over TLS") == true, "\(error ?? "no error")")
                #expect(error?.contains(expected) == true, "\(error ?? "no error")")
                #expect(error?.contains("certificate verify failed") == true, "\(error ?? "no error")")
            }
            // Turning endpoint identification off accepts the certificate (the chain is still checked).
            var unchecked = sslProperties(broker)
            unchecked["ssl.endpoint.identification.algorithm"] = ""
            try await withCluster(unchecked) { cluster in
                let brokers = try await cluster.refreshMetadata(topics: []).brokers
                #expect(brokers.count == 1)
            }
        }
    }

    @Test func theAdvertisedHostIsVerifiedForBrokerConnections() async throws {
        // The certificate names localhost only; the broker advertises 127.0.0.1.
        try await withSSLBroker(keystore: certs.localhostOnlyKeystore) { broker in
            try await withCluster(sslProperties(broker, host: "localhost")) { cluster in
                let snapshot = try await cluster.refreshMetadata(topics: [])
                let node = try #require(snapshot.brokers.keys.first)
                let error = await failure { _ = try await cluster.connection(to: node) }
                #expect(error?.contains("cannot connect to broker \(node) at 127.0.0.1:\(broker.port) over TLS") == true,
                        "\(error ?? "no error")")
                #expect(error?.contains("IP address mismatch") == true, "\(error ?? "no error")")
            }
        }
        // Advertising the name the certificate holds makes it work.
        try await withSSLBroker(keystore: certs.localhostOnlyKeystore,
                                extra: ["advertised.listeners": "SSL://localhost:{port}"]) { broker in
            try await withCluster(sslProperties(broker, host: "localhost")) { cluster in
                try await roundTrip(cluster, topic: "advertised", count: 10)
            }
        }
    }

    @Test func anUnknownCAIsRefused() async throws {
        try await withSSLBroker(keystore: certs.brokerKeystore) { broker in
            let error = await failure {
                try await withCluster(sslProperties(broker, ca: certs.otherCA)) { _ = try await $0.refreshMetadata(topics: []) }
            }
            #expect(error?.contains("over TLS") == true, "\(error ?? "no error")")
            #expect(error?.contains("certificate verify failed") == true, "\(error ?? "no error")")
            // The broker sends its CA along: OpenSSL calls it self-signed; without it, the issuer is unknown.
            #expect(["self-signed certificate in certificate chain", "unable to get local issuer certificate"]
                .contains { error?.contains($0) == true }, "\(error ?? "no error")")
            // Without ssl.ca.location the system trust store is used, which does not know the test CA either.
            var system = sslProperties(broker)
            system["ssl.ca.location"] = nil
            let systemError = await failure {
                try await withCluster(system) { _ = try await $0.refreshMetadata(topics: []) }
            }
            #expect(systemError?.contains("certificate verify failed") == true, "\(systemError ?? "no error")")
        }
    }

    @Test func mutualTLSRequired() async throws {
        try await withSSLBroker(keystore: certs.brokerKeystore, clientAuth: "required") { broker in
            // librdkafka's names: certificate and key files.
            var alice = sslProperties(broker)
            alice["ssl.certificate.location"] = certs.aliceCertificate
            alice["ssl.key.location"] = certs.aliceKey
            try await withCluster(alice) { cluster in try await roundTrip(cluster, topic: "mtls", count: 20) }
            // Java's names: one PEM key store.
            var keystore = sslProperties(broker)
            keystore["ssl.keystore.type"] = "PEM"
            keystore["ssl.keystore.location"] = certs.aliceKeystore
            try await withCluster(keystore) { cluster in
                let topics = try await KafkaAdmin(cluster: cluster).listTopics()
                #expect(topics.contains("mtls"))
            }
            // An encrypted key with its password.
            var encrypted = alice
            encrypted["ssl.key.location"] = certs.aliceEncryptedKey
            encrypted["ssl.key.password"] = ClientTestCertificates.keyPassword
            try await withCluster(encrypted) { cluster in
                let topics = try await KafkaAdmin(cluster: cluster).listTopics()
                #expect(topics.contains("mtls"))
            }
            // No certificate, or one from a CA the broker does not trust: refused.
            var mallory = sslProperties(broker)
            mallory["ssl.certificate.location"] = certs.malloryCertificate
            mallory["ssl.key.location"] = certs.malloryKey
            // TLS 1.3 refuses after the client's handshake is done, TLS 1.2 within it: the same clear error.
            let cases = [(sslProperties(broker), "TLSv1.3", "alert certificate required"), (mallory, "TLSv1.3", "alert unknown ca"),
                         (sslProperties(broker), "TLSv1.2", "alert handshake failure"), (mallory, "TLSv1.2", "alert unknown ca")]
            for (var properties, version, alert) in cases {
                properties["ssl.enabled.protocols"] = version
                let started = ContinuousClock.now
                let error = await failure {
                    try await withCluster(properties) { _ = try await $0.refreshMetadata(topics: []) }
                }
                #expect(ContinuousClock.now - started < .seconds(5))
                #expect(error?.contains("cannot connect to 127.0.0.1:\(broker.port) over TLS") == true, "\(error ?? "no error")")
                #expect(error?.contains(alert) == true, "\(error ?? "no error")")
            }
        }
    }

    @Test func aBrokerThatNeverAnswersTheHandshakeTimesOut() async throws {
        // A TCP server that accepts and stays silent.
        let silent = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        defer { silent.close(promise: nil) }
        let port = try #require(silent.localAddress?.port)
        let config = try ClientConfig(properties: [
            "bootstrap.servers": "127.0.0.1:\(port)", "security.protocol": "SSL", "ssl.ca.location": certs.ca,
            "socket.connection.setup.timeout.ms": "300",
        ])
        let started = ContinuousClock.now
        let error = await failure { _ = try await BrokerConnection.connect(to: config.bootstrapServers[0], config: config) }
        #expect(ContinuousClock.now - started < .seconds(3))
        #expect(error?.contains("TLS handshake not completed within 300 ms") == true, "\(error ?? "no error")")
    }

    @Test func missingFilesAreConfigurationErrorsNamingTheFile() async throws {
        let config = try ClientConfig(properties: [
            "security.protocol": "SSL", "ssl.ca.location": "/nonexistent/ca.pem",
        ])
        do {
            _ = try config.makeTLSContext()
            Issue.record("expected an error")
        } catch let error as KafkaClientError {
            #expect(error.isSameKind(as: .configuration("")))
            #expect(error.message.contains("/nonexistent/ca.pem") && error.message.contains("does not exist"), "\(error)")
        }
        let cluster = KafkaCluster(config: config)
        let error = await failure { _ = try await cluster.refreshMetadata(topics: []) }
        await cluster.close()
        #expect(error?.hasPrefix("security.protocol=SSL: trust store /nonexistent/ca.pem") == true, "\(error ?? "no error")")
    }
}
