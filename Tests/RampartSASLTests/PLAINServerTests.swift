import Testing
@testable import RampartSASL

@Suite("PLAIN against stored SCRAM credentials")
struct PLAINServerTests {
    let users: Users

    init() throws {
        var users = Users()
        try users.add("alice", "alice-secret")
        try users.add("bob", "bob-secret", [.sha256])
        try users.add("carol", "carol-secret", [.sha512])
        self.users = users
    }

    func plain(_ authzid: String, _ user: String, _ password: String) -> [UInt8] {
        Array(authzid.utf8) + [0] + Array(user.utf8) + [0] + Array(password.utf8)
    }

    func run(_ message: [UInt8]) throws -> SASLServerStep {
        try SASLServerMechanisms.make(.plain, credentials: users.lookup).start(clientFirst: message)
    }

    @Test(arguments: [("alice", "alice-secret"), ("bob", "bob-secret"), ("carol", "carol-secret")])
    func correctPasswordAuthenticates(user: String, password: String) throws {
        #expect(try run(plain("", user, password)) == .success(SASLIdentity(username: user), finalData: []))
        #expect(try run(plain(user, user, password)) == .success(SASLIdentity(username: user), finalData: []))
    }

    @Test func wrongPasswordAndUnknownUserFailAlike() throws {
        let wrong = try #require(failure(try run(plain("", "alice", "nope"))))
        let unknown = try #require(failure(try run(plain("", "mallory", "alice-secret"))))
        #expect(wrong.reason == .invalidCredentials && unknown.reason == .invalidCredentials)
        #expect(wrong.clientMessage == unknown.clientMessage)
        #expect(wrong.clientMessage == "Authentication failed: Invalid username or password")
        #expect(!wrong.detail.contains("nope") && !unknown.detail.contains("alice-secret"))
    }

    @Test func anotherAuthorizationIDIsRefused() throws {
        let refused = try #require(failure(try run(plain("admin", "alice", "alice-secret"))))
        #expect(refused.reason == .authorizationIDMismatch)
        #expect(refused.clientMessage == "Authentication failed: Client requested an authorization id that is different from username")
    }

    @Test(arguments: [
        [UInt8](), Array("alice".utf8), [0] + Array("alice".utf8), [0, 0, 0],
        [0] + Array("alice".utf8) + [0] + Array("pw".utf8) + [0], [0, 0] + Array("pw".utf8), [0] + Array("alice".utf8) + [0],
        [0, 0xFF, 0xFE, 0] + Array("pw".utf8),
    ])
    func malformedMessagesFail(message: [UInt8]) throws {
        let failed = try #require(failure(try run(message)))
        #expect(failed.reason == .malformedMessage)
    }

    @Test func singleMessageOnly() throws {
        let server = try SASLServerMechanisms.make(.plain, credentials: users.lookup)
        _ = server.start(clientFirst: plain("", "alice", "alice-secret"))
        #expect(failure(server.start(clientFirst: plain("", "alice", "alice-secret")))?.reason == .unexpectedMessage)
        #expect(failure(server.step(response: []))?.reason == .unexpectedMessage)
    }
}
