import Foundation
import KafkaProtocol
import Logging
import NIOCore
import RampartBroker
import RampartSASL
import Synchronization
import Testing

/// The audit events of allowed changes — topics, topic configs, SCRAM users — and of SASL
/// authentication: one event per change with what changed, none for `validateOnly` or refused
/// requests, and never a secret.
@Suite struct AuditEventTests {
    final class Recorder: AuthorizationAuditSink {
        let events = Mutex<[AuthorizationEvent]>([])
        let logins = Mutex<[AuthenticationEvent]>([])
        func record(_ event: AuthorizationEvent) { events.withLock { $0.append(event) } }
        func record(_ event: AuthenticationEvent) { logins.withLock { $0.append(event) } }
        /// The allowed changes recorded (events with an action).
        var changes: [AuthorizationEvent] { events.withLock { $0.filter { $0.action != nil } } }
    }

    typealias B = AuthorizedBroker

    func broker() async throws -> (AuthorizedBroker, Recorder) {
        let t = try await AuthorizedBroker.make()
        let recorder = Recorder()
        t.authorizer.setAuditSink(recorder)
        return (t, recorder)
    }

    @Test func topicCreationAndDeletionAreAudited() async throws {
        let (t, recorder) = try await broker()
        defer { Task { await t.close() } }
        let created = try await t.call(CreateTopicsRequest(topics: [
            .init(name: "audited", numPartitions: 3, replicationFactor: 1, configs: [.init(name: "retention.ms", value: "60000")]),
        ]), version: 5, as: B.admin)
        #expect(created.topics[0].errorCode == 0)
        // validateOnly changes nothing and records nothing.
        let dry = try await t.call(CreateTopicsRequest(topics: [.init(name: "dry", numPartitions: 1, replicationFactor: 1)], validateOnly: true),
                                   version: 5, as: B.admin)
        #expect(dry.topics[0].errorCode == 0)
        // alice may create one topic (Create on it, not on the Cluster): the event names that ACL.
        let rule = grant(.create, .topic, "alices")
        t.grant([rule])
        let byAlice = try await t.call(CreateTopicsRequest(topics: [.init(name: "alices", numPartitions: 1, replicationFactor: 1)]),
                                       version: 5, as: B.alice)
        #expect(byAlice.topics[0].errorCode == 0)

        let changes = recorder.changes
        #expect(changes.count == 2)
        let first = try #require(changes.first)
        #expect(first.action == "CreateTopics audited (partitions 3, replication factor 1, configs retention.ms=60000)")
        #expect(first.apiName == "CreateTopics" && first.principal == B.admin && first.operation == .create)
        #expect(first.resourceType == .cluster && first.decision.reason == .superUser && first.decision.isAllowed)
        let second = try #require(changes.last)
        #expect(second.action == "CreateTopics alices (partitions 1, replication factor 1)")
        #expect(second.resourceType == .topic && second.resourceName == "alices" && second.matchedRule?.rule == rule.rule)

        // bob may not delete: a denial, no change. admin deletes: one event.
        let refused = try await t.call(DeleteTopicsRequest(topicNames: ["audited"]), version: 5, as: B.bob)
        #expect(refused.responses[0].errorCode == KafkaErrorCode.topicAuthorizationFailed.rawValue)
        let deleted = try await t.call(DeleteTopicsRequest(topicNames: ["audited"]), version: 5, as: B.admin)
        #expect(deleted.responses[0].errorCode == 0)
        let after = recorder.changes
        #expect(after.count == 3)
        #expect(after.last?.action == "DeleteTopics audited" && after.last?.operation == .delete && after.last?.resourceName == "audited")
        #expect(recorder.events.withLock { $0.contains { $0.principal == B.bob && !$0.decision.isAllowed && $0.action == nil } })
    }

    @Test func configChangesAreAudited() async throws {
        let (t, recorder) = try await broker()
        defer { Task { await t.close() } }
        let altered = try await t.call(AlterConfigsRequest(resources: [
            .init(resourceType: 2, resourceName: "orders", configs: [.init(name: "retention.ms", value: "1000")]),
        ]), version: 2, as: B.admin)
        #expect(altered.responses[0].errorCode == 0)
        let incremental = try await t.call(IncrementalAlterConfigsRequest(resources: [
            .init(resourceType: 2, resourceName: "orders", configs: [
                .init(name: "retention.ms", configOperation: 0, value: "2000"),
                .init(name: "cleanup.policy", configOperation: 2, value: "compact"),
                .init(name: "segment.bytes", configOperation: 1, value: nil),
            ]),
        ]), version: 1, as: B.admin)
        #expect(incremental.responses[0].errorCode == 0)
        let dry = try await t.call(IncrementalAlterConfigsRequest(resources: [
            .init(resourceType: 2, resourceName: "orders", configs: [.init(name: "retention.ms", configOperation: 0, value: "3000")]),
        ], validateOnly: true), version: 1, as: B.admin)
        #expect(dry.responses[0].errorCode == 0)
        let invalid = try await t.call(AlterConfigsRequest(resources: [
            .init(resourceType: 2, resourceName: "orders", configs: [.init(name: "no.such.config", value: "1")]),
        ]), version: 2, as: B.admin)
        #expect(invalid.responses[0].errorCode != 0)

        let changes = recorder.changes
        #expect(changes.map(\.action) == [
            "AlterConfigs topic orders: overrides now {retention.ms=1000}",
            "IncrementalAlterConfigs topic orders: SET retention.ms=2000, APPEND cleanup.policy=compact, DELETE segment.bytes",
        ])
        #expect(changes.allSatisfy { $0.operation == .alterConfigs && $0.resourceType == .topic && $0.resourceName == "orders" })
    }

    @Test func scramChangesAreAuditedWithoutSecrets() async throws {
        let (t, recorder) = try await broker()
        defer { Task { await t.close() } }
        let salt = Array("0123456789abcdef".utf8)
        let salted = SCRAMCredential.saltedPassword(SASLPassword("carol-secret"), salt: salt, iterations: 8192, mechanism: .sha512)
        let upsert = try await t.call(AlterUserScramCredentialsRequest(upsertions: [
            .init(name: "carol", mechanism: 2, iterations: 8192, salt: ByteBuffer(bytes: salt), saltedPassword: ByteBuffer(bytes: salted)),
        ]), version: 0, as: B.admin)
        #expect(upsert.results.map(\.errorCode) == [0])
        let delete = try await t.call(AlterUserScramCredentialsRequest(deletions: [.init(name: "carol", mechanism: 2)]), version: 0, as: B.admin)
        #expect(delete.results.map(\.errorCode) == [0])
        // A refused change (bob lacks Alter on the Cluster) is a denial, not a change.
        _ = try await t.call(AlterUserScramCredentialsRequest(deletions: [.init(name: "alice", mechanism: 2)]), version: 0, as: B.bob)

        let changes = recorder.changes
        #expect(changes.map(\.action) == [
            "AlterUserScramCredentials upsert SCRAM-SHA-512 credential of user carol (8192 iterations)",
            "AlterUserScramCredentials delete SCRAM-SHA-512 credential of user carol",
        ])
        #expect(changes.allSatisfy { $0.operation == .alter && $0.resourceType == .cluster && $0.principal == B.admin })
        let text = changes.map { "\($0)" }.joined()
        for secret in ["carol-secret", Data(salt).base64EncodedString(), Data(salted).base64EncodedString(), String(decoding: salt, as: UTF8.self)] {
            #expect(!text.contains(secret))
        }
    }

    @Test func saslLoginsAndFailuresAreAudited() async throws {
        let fixture = try await BrokerFixture.make()
        defer { Task { await fixture.close() } }
        let authorizer = Authorizer(config: AuthorizerConfig())
        let recorder = Recorder()
        authorizer.setAuditSink(recorder)
        let auditor = AuthenticationAuditor(authorizer: authorizer, clock: { 1_700_000_000_000 })
        for (password, ok) in [("alice-secret", true), ("wrong-secret", false)] {
            let authenticator = SaslServerAuthenticator(
                settings: SaslListenerSettings(enabledMechanisms: [.plain], failedAuthenticationDelayMs: 0),
                dispatcher: RequestDispatcher(registry: fixture.registry, logger: Logger(label: "test")),
                credentials: { SaslTestUsers.lookup }, logger: Logger(label: "test"), auditor: auditor)
            _ = await authenticator.receive(try requestFrame(SaslHandshakeRequest(mechanism: "PLAIN"), version: 1), connection: saslConnection)
            let token = try PLAINClient(username: "alice", password: SASLPassword(password)).initialResponse()
            let outcome = await authenticator.receive(try requestFrame(SaslAuthenticateRequest(authBytes: ByteBuffer(bytes: token)), version: 2),
                                                      connection: saslConnection)
            if case .authenticated = outcome { #expect(ok) } else { #expect(!ok) }
        }
        let logins = recorder.logins.withLock { $0 }
        #expect(logins.count == 2)
        let success = try #require(logins.first), failure = try #require(logins.last)
        #expect(success.succeeded && success.principal == KafkaPrincipal(name: "alice") && success.mechanism == "PLAIN")
        #expect(success.clientHost == "127.0.0.1" && success.listener == "SASL_SSL" && !success.reauthentication && success.reason == nil)
        #expect(success.policyFingerprint == authorizer.snapshot.fingerprint && success.timeMs == 1_700_000_000_000)
        #expect(!failure.succeeded && failure.principal == nil && failure.reason == "invalid_credentials")
        let text = logins.map { "\($0)" }.joined()
        #expect(!text.contains("alice-secret") && !text.contains("wrong-secret"))
    }
}
