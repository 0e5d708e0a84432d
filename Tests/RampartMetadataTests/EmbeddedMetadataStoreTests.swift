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

@Suite struct SCRAMCredentialStorageTests {
    @Test func credentialsPersistPrivatelyAndRaiseTheFormatVersion() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rampart-meta-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try EmbeddedMetadataStore(directory: dir)
        // Without credentials the file stays readable by brokers that predate them.
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: store.fileURL)) as? [String: Any]
        #expect(json?["formatVersion"] as? Int == 1)
        #expect(json?["scramCredentials"] == nil)

        let credential = StoredSCRAMCredential(salt: "c2FsdA==", iterations: 4096, storedKey: "AAAA", serverKey: "BBBB")
        _ = try await store.update { $0.scramCredentials["alice"] = ["SCRAM-SHA-256": credential] }
        json = try JSONSerialization.jsonObject(with: Data(contentsOf: store.fileURL)) as? [String: Any]
        #expect(json?["formatVersion"] as? Int == 2)
        let attributes = try FileManager.default.attributesOfItem(atPath: store.fileURL.path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)

        let reopened = try EmbeddedMetadataStore(directory: dir)
        #expect(await reopened.current().scramCredentials["alice"]?["SCRAM-SHA-256"] == credential)
        #expect("\(credential)" == "StoredSCRAMCredential(iterations: 4096)")
        var dumped = ""
        dump(credential, to: &dumped)
        #expect(!dumped.contains("c2FsdA==") && !dumped.contains("AAAA"))
    }

    /// The SASL decoy key persists, in a file that stays at format 1 (readers that predate the key
    /// ignore it) and private.
    @Test func theDecoyKeyPersistsWithoutRaisingTheFormatVersion() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rampart-meta-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try EmbeddedMetadataStore(directory: dir)
        _ = try await store.update { $0.scramDecoyKey = "a2V5" }
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: store.fileURL)) as? [String: Any]
        #expect(json?["formatVersion"] as? Int == 1)
        let reopened = try EmbeddedMetadataStore(directory: dir)
        #expect(await reopened.current().scramDecoyKey == "a2V5")
        let attributes = try FileManager.default.attributesOfItem(atPath: store.fileURL.path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }
}
