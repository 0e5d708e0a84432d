import Foundation
import KafkaProtocol
import RampartBroker
import Synchronization
import Testing

/// `rampart.authorizer.mode=shadow`: a denied request is recorded (enforced = false) and served.
@Suite struct ShadowModeTests {
    final class Recorder: AuthorizationAuditSink {
        let events = Mutex<[AuthorizationEvent]>([])
        func record(_ event: AuthorizationEvent) { events.withLock { $0.append(event) } }
    }

    @Test func deniedRequestsAreRecordedButServed() async throws {
        let authorizer = Authorizer(config: AuthorizerConfig(shadow: true))
        let recorder = Recorder()
        authorizer.setAuditSink(recorder)
        let fixture = try await BrokerFixture.make(authorizer: authorizer)
        defer { Task { await fixture.close() } }
        try await fixture.broker.createTopic(name: "orders", partitions: 1)
        let bob = KafkaPrincipal(name: "bob")
        let produced = try await fixture.send(ProduceRequest(acks: -1, timeoutMs: 1000, topicData: [
            .init(name: "orders", partitionData: [.init(index: 0, records: BrokerFixture.batch(count: 2))]),
        ]), version: 9, as: bob)
        #expect(produced.responses[0].partitionResponses[0].errorCode == 0)
        let initialized = try await fixture.send(InitProducerIdRequest(transactionalId: nil, transactionTimeoutMs: 1000), version: 4, as: bob)
        #expect(initialized.errorCode == 0)
        let events = recorder.events.withLock { $0 }
        #expect(events.contains { $0.apiName == "Produce" && $0.operation == .write && !$0.enforced && !$0.decision.isAllowed })
        #expect(events.contains { $0.apiName == "InitProducerId" && $0.operation == .idempotentWrite && !$0.enforced })

        // Enforcing again refuses.
        authorizer.replaceConfig(AuthorizerConfig())
        let refused = try await fixture.send(ProduceRequest(acks: -1, timeoutMs: 1000, topicData: [
            .init(name: "orders", partitionData: [.init(index: 0, records: BrokerFixture.batch(count: 1))]),
        ]), version: 9, as: bob)
        #expect(refused.responses[0].partitionResponses[0].errorCode == KafkaErrorCode.topicAuthorizationFailed.rawValue)
        #expect(recorder.events.withLock { $0.last?.enforced } == true)
    }
}
