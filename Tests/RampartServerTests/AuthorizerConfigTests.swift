import Foundation
import Logging
import RampartAuthorizer
import Testing
@testable import RampartServer

/// The authorizer's server keys: validation at load, the settings they produce, the policy at start-up.
@Suite struct AuthorizerConfigTests {
    static let base = ["listeners": "PLAINTEXT://127.0.0.1:9092", "rampart.insecure.allow.plaintext": "true"]

    func config(_ extra: [String: String]) throws -> BrokerConfig {
        try BrokerConfig(properties: Self.base.merging(extra) { $1 })
    }

    @Test func defaultsAreSecure() throws {
        let settings = BrokerServer.authorizerConfig(try config([:]))
        #expect(settings == AuthorizerConfig(enabled: true, superUsers: [], allowEveryoneIfNoAclFound: false))
    }

    @Test func keysBecomeSettings() throws {
        let settings = BrokerServer.authorizerConfig(try config([
            "super.users": "User:admin; User:CN=ops,O=Example",
            "allow.everyone.if.no.acl.found": "true", "rampart.insecure.allow.everyone": "true",
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        ]))
        #expect(settings.superUsers == [KafkaPrincipal(name: "admin"), KafkaPrincipal(name: "CN=ops,O=Example")])
        #expect(settings.allowEveryoneIfNoAclFound && settings.enabled)
        #expect(!BrokerServer.authorizerConfig(try config(["rampart.authorizer.enabled": "false"])).enabled)
    }

    @Test func insecureOrMalformedValuesStopStartUp() {
        #expect {
            try config(["allow.everyone.if.no.acl.found": "true"])
        } throws: { error in
            (error as? ConfigError)?.message.contains("rampart.insecure.allow.everyone=true") == true
        }
        #expect {
            try config(["super.users": "User:admin;admin"])
        } throws: { error in
            (error as? ConfigError)?.message.contains("super.users: principal 'admin'") == true
        }
        #expect(throws: ConfigError.self) { try config(["rampart.acl.policy.reload.interval.ms": "-1"]) }
    }

    @Test func aBrokenPolicyStopsStartUpNamingFileAndLine() throws {
        let directory = NSTemporaryDirectory() + "rampart-authz-config-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let policy = directory + "/policy.yaml"
        try "version: 1\nacls:\n  - principal: User:a\n    permission: allow\n    operations: [Fly]\n    resource: {type: topic, name: t}\n"
            .write(toFile: policy, atomically: true, encoding: .utf8)
        let server = BrokerServer(config: try config(["rampart.acl.policy.path": policy, "log.dirs": directory]),
                                  logger: Logger(label: "test"), eventLoopThreads: 1)
        #expect {
            _ = try server.makeAuthorizer()
        } throws: { error in
            "\(error)".contains("rampart.acl.policy.path: \(policy):5:") && "\(error)".contains("unknown operation 'Fly'")
        }
        try "version: 1\nacls:\n  - principal: User:a\n    permission: allow\n    operations: [Read]\n    resource: {type: topic, name: t}\n"
            .write(toFile: policy, atomically: true, encoding: .utf8)
        let (authorizer, watcher) = try server.makeAuthorizer()
        #expect(watcher?.path == policy)
        #expect(authorizer.snapshot.authorize(KafkaPrincipal(name: "a"), host: "h", operation: .read, .topic, "t").isAllowed)
        #expect(!authorizer.snapshot.authorize(KafkaPrincipal.anonymous, host: "h", operation: .read, .topic, "t").isAllowed)
    }
}
