import Foundation
import Yams

/// `rampart policy test`'s fixtures: assertions about what a policy allows, for operators' CI.
///
/// ```yaml
/// policy: ../policies            # optional (relative to this file); --policy overrides it
/// super-users: [User:admin]      # optional
/// tests:
///   - principal: User:alice
///     operation: Write
///     resource: {type: topic, name: orders.eu}
///     host: 10.0.0.1             # optional, default 0.0.0.0
///     expect: allow              # allow | deny
/// ```
public struct PolicyFixtures: Sendable {
    /// One assertion.
    public struct Case: Sendable, Decodable {
        public var principal: String
        public var operation: String
        public var resource: Resource
        public var host: String?
        public var expect: String
    }

    public struct Resource: Sendable, Decodable {
        public var type: String
        public var name: String?
    }

    private struct Document: Decodable {
        var policy: String?
        var superUsers: [String]?
        var tests: [Case]

        enum CodingKeys: String, CodingKey {
            case policy, tests
            case superUsers = "super-users"
        }
    }

    /// The policy path, resolved against the fixtures file's directory.
    public var policy: String?
    public var superUsers: [String]
    public var cases: [Case]

    /// Parses the fixtures in `file`; errors name the file.
    public init(file: String) throws(PolicyError) {
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw PolicyError(file: file, reason: "cannot read the file: \(error.localizedDescription)")
        }
        let document: Document
        do {
            document = try YAMLDecoder().decode(Document.self, from: text)
        } catch {
            throw PolicyError(file: file, reason: "not a fixtures file (policy, super-users, tests: [{principal, operation, resource: {type, name}, host, expect}]): \(error)")
        }
        let base = (file as NSString).deletingLastPathComponent
        policy = document.policy.map { $0.hasPrefix("/") || base.isEmpty ? $0 : (base as NSString).appendingPathComponent($0) }
        superUsers = document.superUsers ?? []
        cases = document.tests
    }

    /// One assertion's outcome: nil when it held, else what went wrong.
    public static func check(_ test: Case, against snapshot: AclSnapshot) -> (explanation: AuthorizationExplanation?, failure: String?) {
        let principal: KafkaPrincipal
        do {
            principal = try KafkaPrincipal(parsing: test.principal)
        } catch {
            return (nil, "\(error)")
        }
        guard let operation = AclOperation(name: test.operation), operation != .all else {
            return (nil, "operation '\(test.operation)' is not an operation a request checks")
        }
        guard let type = AclResourceType(name: test.resource.type) else {
            return (nil, "resource type '\(test.resource.type)' is not one of topic, group, cluster, transactional-id, delegation-token, user")
        }
        let name = type == .cluster ? ResourcePattern.clusterName : (test.resource.name ?? "")
        guard !name.isEmpty else { return (nil, "the resource has no name") }
        let expectAllow: Bool
        switch test.expect.lowercased() {
        case "allow", "allowed": expectAllow = true
        case "deny", "denied": expectAllow = false
        default: return (nil, "expect '\(test.expect)' is not allow or deny")
        }
        let explanation = snapshot.explain(principal, host: test.host ?? "0.0.0.0", operation: operation, type, name)
        return (explanation, explanation.decision.isAllowed == expectAllow ? nil : "expected \(expectAllow ? "ALLOWED" : "DENIED")")
    }
}
