import Foundation
import RampartMetadata
import Testing

@Suite struct EmbeddedMetadataStoreTests {
    private func tempDir() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("rampart-meta-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func createsAClusterIDAndKeepsItAcrossReopen() async throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let first = try EmbeddedMetadataStore(directory: dir)
        let id = await first.current().clusterID
        #expect(id.count == 22)
        let second = try EmbeddedMetadataStore(directory: dir)
        #expect(await second.current().clusterID == id)
    }

    @Test func updatesAreDurableAndIncrementTheEpoch() async throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try EmbeddedMetadataStore(directory: dir)
        let topic = TopicMetadata(
            name: "orders",
            partitions: (0..<3).map { PartitionMetadata(partition: $0, leader: 1, replicas: [1], isr: [1]) },
            configs: ["retention.ms": "1000"])
        let after = try await store.update { $0.topics[topic.name] = topic }
        #expect(after.epoch == 1)
        let reopened = try EmbeddedMetadataStore(directory: dir)
        let image = await reopened.current()
        #expect(image.topics["orders"] == topic)
        #expect(image.epoch == 1)
        #expect(image.topic(id: topic.id)?.name == "orders")
        // The file is private to the broker.
        let attributes = try FileManager.default.attributesOfItem(atPath: store.fileURL.path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }

    @Test func aThrowingChangeWritesNothing() async throws {
        struct Refused: Error {}
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try EmbeddedMetadataStore(directory: dir)
        let before = try Data(contentsOf: store.fileURL)
        await #expect(throws: Refused.self) {
            _ = try await store.update { image in
                image.topics["x"] = TopicMetadata(name: "x", partitions: [])
                throw Refused()
            }
        }
        #expect(try Data(contentsOf: store.fileURL) == before)
        #expect(await store.current().topics.isEmpty)
    }

    @Test func aCorruptFileIsAnErrorNamingTheFile() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent(EmbeddedMetadataStore.fileName)
        try Data("{\"formatVersion\": 1, \"clusterID\": ".utf8).write(to: url)
        do {
            _ = try EmbeddedMetadataStore(directory: dir)
            Issue.record("expected an error")
        } catch let error as MetadataStoreError {
            #expect(error.description.contains(url.path))
            #expect(error.description.contains("corrupt"))
        }
        // The corrupt file was not replaced.
        #expect(try Data(contentsOf: url) == Data("{\"formatVersion\": 1, \"clusterID\": ".utf8))
    }

    @Test func concurrentUpdatesAreSerialized() async throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try EmbeddedMetadataStore(directory: dir)
        await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<20 {
                group.addTask {
                    _ = try await store.update { $0.topics["t\(i)"] = TopicMetadata(name: "t\(i)", partitions: []) }
                }
            }
        }
        let image = try EmbeddedMetadataStore(directory: dir)
        #expect(await image.current().topics.count == 20)
        #expect(await image.current().epoch == 20)
    }
}
