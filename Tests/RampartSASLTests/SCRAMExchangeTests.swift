import Testing
@testable import RampartSASL

/// Runs a whole exchange between a client mechanism and a server mechanism in memory.
/// Returns the server's last step and the client's error, if any.
func exchange(_ client: any SASLClientMechanism, _ server: any SASLServerMechanism) throws -> (server: SASLServerStep, clientError: SASLClientError?) {
    var step = server.start(clientFirst: try client.initialResponse())
    for _ in 0..<4 {
        switch step {
        case .challenge(let bytes):
            do {
                guard let next = try client.evaluate(challenge: bytes) else { return (step, nil) }
                step = server.step(response: next)
            } catch {
                return (step, error)
            }
        case .success(_, let finalData):
            do {
                _ = try client.evaluate(challenge: finalData)
                return (step, nil)
            } catch {
                return (step, error)
            }
        case .failure:
            return (step, nil)
        }
    }
    Issue.record("exchange did not finish")
    return (step, nil)
}

/// An in-memory credential table.
struct Users {
    var credentials: [String: [SCRAMMechanism: SCRAMCredential]] = [:]

    mutating func add(_ name: String, _ password: String, _ mechanisms: [SCRAMMechanism] = SCRAMMechanism.allCases) throws {
        for mechanism in mechanisms {
            credentials[name, default: [:]][mechanism] = try SCRAMCredential.generate(password: SASLPassword(password), mechanism: mechanism)
        }
    }

    var lookup: SCRAMCredentialLookup {
        let table = credentials
        return { name, mechanism in table[name]?[mechanism] }
    }
}

func failure(_ step: SASLServerStep) -> SASLAuthenticationFailure? {
    if case .failure(let failure) = step { return failure }
    return nil
}

@Suite("SCRAM through Cyrus, with the Swift client")
struct SCRAMExchangeTests {
    let users: Users

    init() throws {
        var users = Users()
        try users.add("alice", "alice-secret")
        try users.add("comma,equals=user", "odd name")
        try users.add("only256", "pw256", [.sha256])
        self.users = users
    }

    @Test(arguments: SCRAMMechanism.allCases)
    func correctPasswordAuthenticates(mechanism: SCRAMMechanism) throws {
        let server = try SASLServerMechanisms.make(mechanism.saslMechanism, credentials: users.lookup)
        let client = SCRAMClient(mechanism: mechanism, username: "alice", password: SASLPassword("alice-secret"))
        let (step, clientError) = try exchange(client, server)
        #expect(clientError == nil)
        guard case .success(let identity, let finalData) = step else {
            Issue.record("expected success, got \(step)")
            return
        }
        #expect(identity.username == "alice")
        #expect(finalData.starts(with: Array("v=".utf8)))
    }

    @Test(arguments: SCRAMMechanism.allCases)
    func wrongPasswordAndUnknownUserFailAlikeAtTheProof(mechanism: SCRAMMechanism) throws {
        var messages: [String] = []
        for (user, password) in [("alice", "wrong"), ("nobody", "alice-secret")] {
            let server = try SASLServerMechanisms.make(mechanism.saslMechanism, credentials: users.lookup)
            let client = SCRAMClient(mechanism: mechanism, username: user, password: SASLPassword(password))
            // The server-first message comes back for both: an unknown user is not revealed early.
            guard case .challenge(let serverFirst) = server.start(clientFirst: try client.initialResponse()) else {
                Issue.record("\(user): no server-first message")
                continue
            }
            #expect(String(decoding: serverFirst, as: UTF8.self).contains(",i=4096"))
            let final = try #require(try client.evaluate(challenge: serverFirst))
            let step = server.step(response: final)
            let failed = try #require(failure(step), "\(user): expected failure, got \(step)")
            #expect(failed.reason == .invalidCredentials)
            messages.append(failed.clientMessage)
            #expect(!failed.detail.contains(password))
        }
        #expect(messages.count == 2)
        #expect(Set(messages) == ["Authentication failed during authentication due to invalid credentials with SASL mechanism \(mechanism.name)"])
    }

    @Test func unknownUserGetsTheSameSaltEveryTime() throws {
        func salt() throws -> String {
            let server = try SASLServerMechanisms.make(.scramSHA256, credentials: users.lookup)
            let client = SCRAMClient(mechanism: .sha256, username: "ghost", password: SASLPassword("x"))
            guard case .challenge(let bytes) = server.start(clientFirst: try client.initialResponse()) else { return "" }
            return SCRAMClient.attributes(String(decoding: bytes, as: UTF8.self))["s"] ?? ""
        }
        let first = try salt()
        #expect(!first.isEmpty)
        #expect(try salt() == first)
    }

    @Test func credentialOfTheOtherVariantDoesNotServe() throws {
        let server = try SASLServerMechanisms.make(.scramSHA512, credentials: users.lookup)
        let client = SCRAMClient(mechanism: .sha512, username: "only256", password: SASLPassword("pw256"))
        let (step, _) = try exchange(client, server)
        #expect(failure(step)?.reason == .invalidCredentials)
    }

    @Test func escapedUserNameAuthenticates() throws {
        let server = try SASLServerMechanisms.make(.scramSHA256, credentials: users.lookup)
        let client = SCRAMClient(mechanism: .sha256, username: "comma,equals=user", password: SASLPassword("odd name"))
        let (step, clientError) = try exchange(client, server)
        #expect(clientError == nil)
        #expect(step == .success(SASLIdentity(username: "comma,equals=user"), finalData: { if case .success(_, let d) = step { return d } else { return [] } }()))
    }

    @Test func authorizationIDMustBeTheUser() throws {
        let same = SCRAMClient(mechanism: .sha256, username: "alice", password: SASLPassword("alice-secret"), authorizationID: "alice")
        let (ok, _) = try exchange(same, try SASLServerMechanisms.make(.scramSHA256, credentials: users.lookup))
        guard case .success(let identity, _) = ok else {
            Issue.record("expected success, got \(ok)")
            return
        }
        #expect(identity.username == "alice")

        let other = SCRAMClient(mechanism: .sha256, username: "alice", password: SASLPassword("alice-secret"), authorizationID: "admin")
        let (refused, _) = try exchange(other, try SASLServerMechanisms.make(.scramSHA256, credentials: users.lookup))
        #expect(failure(refused) != nil)
    }

    @Test(arguments: [
        "", "n", "garbage garbage", "x,,n=alice,r=abc", "n,,n=alice", "n,,r=abc", "n,,m=ext,n=alice,r=abc",
        "n,,n=al=ZZice,r=abcdefgh", "n,,n=alice,r=abc\u{0}def", String(repeating: "A", count: 100_000),
    ])
    func malformedClientFirstFails(message: String) throws {
        let server = try SASLServerMechanisms.make(.scramSHA256, credentials: users.lookup)
        let step = server.start(clientFirst: Array(message.utf8))
        let failed = try #require(failure(step), "expected failure for \(message.prefix(40)), got \(step)")
        #expect(failed.clientMessage.hasPrefix("Authentication failed"))
    }

    @Test(arguments: ["", "garbage", "c=biws,r=wrongnonce,p=AAAA", "c=biws,r=x", "c=%%%,r=x,p=y"])
    func malformedClientFinalFails(message: String) throws {
        let server = try SASLServerMechanisms.make(.scramSHA256, credentials: users.lookup)
        let client = SCRAMClient(mechanism: .sha256, username: "alice", password: SASLPassword("alice-secret"))
        guard case .challenge = server.start(clientFirst: try client.initialResponse()) else {
            Issue.record("no server-first")
            return
        }
        #expect(failure(server.step(response: Array(message.utf8))) != nil)
    }

    @Test func messagesAfterTheEndAreRefused() throws {
        let server = try SASLServerMechanisms.make(.scramSHA256, credentials: users.lookup)
        let client = SCRAMClient(mechanism: .sha256, username: "alice", password: SASLPassword("alice-secret"))
        let (step, _) = try exchange(client, server)
        guard case .success = step else {
            Issue.record("expected success")
            return
        }
        #expect(failure(server.step(response: Array("again".utf8)))?.reason == .unexpectedMessage)
        #expect(failure(server.start(clientFirst: Array("n,,n=alice,r=abc".utf8)))?.reason == .unexpectedMessage)

        let fresh = try SASLServerMechanisms.make(.scramSHA256, credentials: users.lookup)
        #expect(failure(fresh.step(response: Array("c=biws".utf8)))?.reason == .unexpectedMessage)
    }
}
