import Foundation
import KafkaProtocol
import NIOCore
import RampartBroker
import RampartStorage
import Testing

/// A broker with the authorizer on, a topic `orders` (2 partitions, 3 records in partition 0) and a
/// group `g` with a committed offset. `admin` is a super user (it sets the state up), `alice` holds the
/// ACLs a test grants, `bob` holds none.
final class AuthorizedBroker: Sendable {
    let fixture: BrokerFixture
    let authorizer: Authorizer

    static let admin = KafkaPrincipal(name: "admin")
    static let alice = KafkaPrincipal(name: "alice")
    static let bob = KafkaPrincipal(name: "bob")

    var broker: Broker { fixture.broker }

    private init(fixture: BrokerFixture, authorizer: Authorizer) {
        self.fixture = fixture
        self.authorizer = authorizer
    }

    static func make() async throws -> AuthorizedBroker {
        let authorizer = Authorizer(config: AuthorizerConfig(superUsers: [admin]))
        let fixture = try await BrokerFixture.make(authorizer: authorizer) { settings in
            settings.offsetsTopicPartitions = 1
            settings.autoCreateTopics = true
            settings.encryptedListeners = ["PLAINTEXT"]
        }
        let broker = AuthorizedBroker(fixture: fixture, authorizer: authorizer)
        try await broker.broker.createTopic(name: "orders", partitions: 2)
        let produced = try await broker.call(ProduceRequest(acks: -1, timeoutMs: 1000, topicData: [
            .init(name: "orders", partitionData: [.init(index: 0, records: BrokerFixture.batch(count: 3))]),
        ]), version: 9, as: admin)
        precondition(produced.responses[0].partitionResponses[0].errorCode == 0)
        let committed = try await broker.call(OffsetCommitRequest(groupId: "g", topics: [
            .init(name: "orders", partitions: [.init(partitionIndex: 0, committedOffset: 1)]),
        ]), version: 8, as: admin)
        precondition(committed.topics[0].partitions[0].errorCode == 0)
        return broker
    }

    func close() async { await fixture.close() }

    /// Gives `alice` exactly these ACLs (as dynamic ACLs).
    func grant(_ acls: [AclBinding]) { authorizer.replaceDynamicBindings(acls) }

    func call<R: KafkaRequestMessage>(_ request: R, version: Int16, as principal: KafkaPrincipal) async throws -> R.Response {
        try await fixture.send(request, version: version, as: principal)
    }

    /// Everything a request could have written: the metadata image, every log's start and end offsets,
    /// the groups and their committed offsets.
    func state() async -> [String] {
        var lines = ["metadata \(await broker.metadata.current())"]
        for (tp, log) in await broker.logs.allLogs {
            lines.append("log \(tp) \(await log.logStartOffset) \(await log.logEndOffset)")
        }
        for group in await broker.groups.listGroups() { lines.append("group \(group.groupID) \(group.state)") }
        for group in await broker.offsets.groupsWithOffsets() {
            lines.append("offsets \(group) \(await broker.offsets.committed(groupID: group).map { "\($0.key)=\($0.value.offset)" }.sorted())")
        }
        return lines.sorted()
    }
}

/// `alice`'s ACL: ALLOW `operation` on a LITERAL resource.
func grant(_ operation: AclOperation, _ type: AclResourceType, _ name: String) -> AclBinding {
    AclBinding(pattern: ResourcePattern(type, name), entry: AccessControlEntry(principal: AuthorizedBroker.alice, operation: operation, permission: .allow))
}
