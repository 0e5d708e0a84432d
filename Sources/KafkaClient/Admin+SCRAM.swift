import KafkaProtocol
import NIOCore

/// One SCRAM credential as DescribeUserScramCredentials reports it (never salts or keys).
public struct ScramCredentialInfo: Sendable, Hashable {
    /// `SCRAM-SHA-256` or `SCRAM-SHA-512` (`UNKNOWN` for a type this client does not know).
    public var mechanism: String
    public var iterations: Int32
}

extension KafkaAdmin {
    /// Kafka's `ScramMechanism` type numbers in the admin APIs.
    static func scramMechanismType(_ name: String) -> Int8? {
        switch name {
        case "SCRAM-SHA-256": return 1
        case "SCRAM-SHA-512": return 2
        default: return nil
        }
    }

    static func scramMechanismName(_ type: Int8) -> String {
        switch type {
        case 1: return "SCRAM-SHA-256"
        case 2: return "SCRAM-SHA-512"
        default: return "UNKNOWN"
        }
    }

    // MARK: SCRAM users

    /// The SCRAM credentials of `users` (every user with credentials for nil), by user name. A named
    /// user without credentials is an error (RESOURCE_NOT_FOUND).
    public func describeUserScramCredentials(_ users: [String]? = nil) async throws -> [String: [ScramCredentialInfo]] {
        let connection = try await controllerConnection()
        let request = DescribeUserScramCredentialsRequest(users: users?.map { .init(name: $0) })
        let response = try await connection.send(request)
        try KafkaClientError.check(response.errorCode, "describe SCRAM credentials", detail: response.errorMessage)
        var result: [String: [ScramCredentialInfo]] = [:]
        for entry in response.results {
            try KafkaClientError.check(entry.errorCode, "describe SCRAM credentials of user '\(entry.user)'", detail: entry.errorMessage)
            result[entry.user] = entry.credentialInfos.map {
                ScramCredentialInfo(mechanism: Self.scramMechanismName($0.mechanism), iterations: $0.iterations)
            }
        }
        return result
    }

    /// Creates or replaces `user`'s credential of `mechanism`. The password never leaves the client:
    /// Kafka's protocol carries the salt and SaltedPassword = Hi(password, salt, iterations).
    public func upsertUserScramCredential(user: String, mechanism: String, iterations: Int32, salt: [UInt8],
                                          saltedPassword: [UInt8]) async throws {
        guard let type = Self.scramMechanismType(mechanism) else {
            throw KafkaClientError.invalidArgument("unknown SCRAM mechanism '\(mechanism)'")
        }
        try await alterUserScramCredentials(user: user, AlterUserScramCredentialsRequest(upsertions: [
            .init(name: user, mechanism: type, iterations: iterations, salt: ByteBuffer(bytes: salt),
                  saltedPassword: ByteBuffer(bytes: saltedPassword)),
        ]), action: "set the \(mechanism) credential of user '\(user)'")
    }

    /// Deletes `user`'s credentials of `mechanisms`.
    public func deleteUserScramCredentials(user: String, mechanisms: [String]) async throws {
        let types = try mechanisms.map { name in
            guard let type = Self.scramMechanismType(name) else { throw KafkaClientError.invalidArgument("unknown SCRAM mechanism '\(name)'") }
            return type
        }
        try await alterUserScramCredentials(user: user, AlterUserScramCredentialsRequest(deletions: types.map { .init(name: user, mechanism: $0) }),
                                            action: "delete the \(mechanisms.joined(separator: ", ")) credentials of user '\(user)'")
    }

    private func alterUserScramCredentials(user: String, _ request: AlterUserScramCredentialsRequest, action: String) async throws {
        let connection = try await controllerConnection()
        let response = try await connection.send(request)
        guard let result = response.results.first(where: { $0.user == user }) else {
            throw KafkaClientError.malformedResponse("AlterUserScramCredentials response does not mention user '\(user)'")
        }
        try KafkaClientError.check(result.errorCode, action, detail: result.errorMessage)
    }
}
