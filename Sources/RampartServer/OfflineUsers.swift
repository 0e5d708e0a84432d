import Foundation
import RampartBroker
import RampartMetadata
import RampartSASL

/// SCRAM users written straight into a stopped broker's metadata store (the data directory named by
/// `log.dirs`), the way `kafka-storage format --add-scram` bootstraps the first users. The data
/// directory is locked while this value lives, so a running broker and this tool never write over
/// each other.
public final class OfflineUsers: Sendable {
    private let lock: DataDirectoryLock
    private let store: EmbeddedMetadataStore

    /// Locks the metadata directory of `config` and opens its store (created if missing).
    public init(config: BrokerConfig) throws {
        let directory = config.logDirs[0]
        self.lock = try DataDirectoryLock(directory: directory)
        self.store = try EmbeddedMetadataStore(directory: URL(fileURLWithPath: directory))
    }

    /// The file the users are written to.
    public var fileURL: URL { store.fileURL }

    /// Why a user name cannot be used: empty, control characters, or spaces at either end (SASL
    /// libraries trim those, so the name would not be the one that logs in).
    public static func validateUserName(_ name: String) -> String? {
        if name.isEmpty { return "the user name is empty" }
        if name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            return "the user name contains control characters"
        }
        if name.first!.isWhitespace || name.last!.isWhitespace { return "the user name starts or ends with white space" }
        if name.utf8.count > 255 { return "the user name is longer than 255 bytes" }
        return nil
    }

    /// Stores `credential` for `user`. `replace` decides whether an existing credential of the same
    /// mechanism may be replaced (`update`) or must not exist (`add`); throws naming the user otherwise.
    public func setCredential(user: String, credential: SCRAMCredential, replace: Bool) async throws {
        if let problem = Self.validateUserName(user) { throw OfflineUsersError(problem) }
        let mechanism = credential.mechanism.name
        _ = try await store.update { image in
            let exists = image.scramCredentials[user]?[mechanism] != nil
            if exists && !replace { throw OfflineUsersError("user '\(user)' already has a \(mechanism) credential (use `rampart user update`)") }
            if !exists && replace { throw OfflineUsersError("user '\(user)' has no \(mechanism) credential (use `rampart user add`)") }
            image.scramCredentials[user, default: [:]][mechanism] = StoredSCRAMCredential(credential)
        }
    }

    /// Removes the credential of `user` for `mechanism`, or all of them when nil; throws when there was
    /// nothing to remove.
    public func deleteCredentials(user: String, mechanism: SCRAMMechanism?) async throws {
        _ = try await store.update { image in
            guard var credentials = image.scramCredentials[user] else { throw OfflineUsersError("no user '\(user)'") }
            if let mechanism {
                guard credentials.removeValue(forKey: mechanism.name) != nil else {
                    throw OfflineUsersError("user '\(user)' has no \(mechanism.name) credential")
                }
            } else {
                credentials.removeAll()
            }
            image.scramCredentials[user] = credentials.isEmpty ? nil : credentials
        }
    }

    /// Every user with the mechanisms and iteration counts of their credentials, sorted by name.
    public func list() async -> [(user: String, credentials: [(mechanism: String, iterations: Int)])] {
        await store.current().scramCredentials.sorted { $0.key < $1.key }.map { user, credentials in
            (user, credentials.sorted { $0.key < $1.key }.map { ($0.key, $0.value.iterations) })
        }
    }
}

/// A user change that cannot be made, and why.
public struct OfflineUsersError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
