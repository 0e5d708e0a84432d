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
    /// One key for the table's life, as a broker keeps one.
    let decoys = SCRAMDecoys()

    mutating func add(_ name: String, _ password: String, _ mechanisms: [SCRAMMechanism] = SCRAMMechanism.allCases) throws {
        for mechanism in mechanisms {
            credentials[name, default: [:]][mechanism] = try SCRAMCredential.generate(password: SASLPassword(password), mechanism: mechanism)
        }
    }

    var lookup: SCRAMCredentials {
        let table = credentials
        let shapes = table.values.flatMap { $0.values.map { ($0.mechanism, SCRAMDecoys.Shape(iterations: $0.iterations, saltLength: $0.salt.count)) } }
        return SCRAMCredentials(decoys: decoys.shaped(like: shapes)) { name, mechanism in table[name]?[mechanism] }
    }
}

func failure(_ step: SASLServerStep) -> SASLAuthenticationFailure? {
    if case .failure(let failure) = step { return failure }
    return nil
}

@Suite("SCRAM servers (built-in and Cyrus), with the Swift client")
struct SCRAMExchangeTests {
    let users: Users

    init() throws {
        var users = Users()
        try users.add("alice", "alice-secret")
        try users.add("comma,equals=user", "odd name")
        try users.add("only256", "pw256", [.sha256])
        self.users = users
    }

    func makeServer(_ mechanism: SCRAMMechanism, _ provider: SCRAMServerProvider) throws -> any SASLServerMechanism {
        try SASLServerMechanisms.make(mechanism.saslMechanism, credentials: users.lookup, scramProvider: provider)
    }

    @Test(arguments: SCRAMServerProvider.allCases, SCRAMMechanism.allCases)
    func correctPasswordAuthenticates(provider: SCRAMServerProvider, mechanism: SCRAMMechanism) throws {
        let server = try makeServer(mechanism, provider)
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

    @Test(arguments: SCRAMServerProvider.allCases, SCRAMMechanism.allCases)
    func wrongPasswordAndUnknownUserFailAlikeAtTheProof(provider: SCRAMServerProvider, mechanism: SCRAMMechanism) throws {
        var messages: [String] = []
        for (user, password) in [("alice", "bad-password-1"), ("nobody", "alice-secret")] {
            let server = try makeServer(mechanism, provider)
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

    @Test(arguments: SCRAMServerProvider.allCases)
    func unknownUserGetsTheSameSaltEveryTime(provider: SCRAMServerProvider) throws {
        func salt() throws -> String {
            let server = try makeServer(.sha256, provider)
            let client = SCRAMClient(mechanism: .sha256, username: "ghost", password: SASLPassword("x"))
            guard case .challenge(let bytes) = server.start(clientFirst: try client.initialResponse()) else { return "" }
            return SCRAMClient.attributes(String(decoding: bytes, as: UTF8.self))["s"] ?? ""
        }
        let first = try salt()
        #expect(!first.isEmpty)
        #expect(try salt() == first)
    }

    /// With stored credentials of 8192 iterations and 16-byte salts, an unknown user's server-first
    /// message shows the same: the iteration count does not tell the two apart.
    @Test(arguments: SCRAMServerProvider.allCases)
    func unknownUserLooksLikeTheStoredUsers(provider: SCRAMServerProvider) throws {
        var users = Users()
        for name in ["alice", "bob"] {
            users.credentials[name] = [.sha512: try SCRAMCredential.generate(password: SASLPassword("\(name)-pw"), mechanism: .sha512,
                                                                            iterations: 8192, salt: Array(repeating: UInt8(name.count), count: 16))]
        }
        func serverFirst(_ user: String) throws -> [String: String] {
            let server = try SASLServerMechanisms.make(.scramSHA512, credentials: users.lookup, scramProvider: provider)
            let client = SCRAMClient(mechanism: .sha512, username: user, password: SASLPassword("x"))
            guard case .challenge(let bytes) = server.start(clientFirst: try client.initialResponse()) else { return [:] }
            return SCRAMClient.attributes(String(decoding: bytes, as: UTF8.self))
        }
        let known = try serverFirst("alice"), unknown = try serverFirst("ghost")
        #expect(known["i"] == "8192" && unknown["i"] == "8192")
        #expect(Base64.decode(unknown["s"] ?? "")?.count == 16)
    }

    @Test(arguments: SCRAMServerProvider.allCases)
    func credentialOfTheOtherVariantDoesNotServe(provider: SCRAMServerProvider) throws {
        let server = try makeServer(.sha512, provider)
        let client = SCRAMClient(mechanism: .sha512, username: "only256", password: SASLPassword("pw256"))
        let (step, _) = try exchange(client, server)
        #expect(failure(step)?.reason == .invalidCredentials)
    }

    @Test(arguments: SCRAMServerProvider.allCases)
    func escapedUserNameAuthenticates(provider: SCRAMServerProvider) throws {
        let server = try makeServer(.sha256, provider)
        let client = SCRAMClient(mechanism: .sha256, username: "comma,equals=user", password: SASLPassword("odd name"))
        let (step, clientError) = try exchange(client, server)
        #expect(clientError == nil)
        #expect(step == .success(SASLIdentity(username: "comma,equals=user"), finalData: { if case .success(_, let d) = step { return d } else { return [] } }()))
    }

    @Test(arguments: SCRAMServerProvider.allCases)
    func authorizationIDMustBeTheUser(provider: SCRAMServerProvider) throws {
        let same = SCRAMClient(mechanism: .sha256, username: "alice", password: SASLPassword("alice-secret"), authorizationID: "alice")
        let (ok, _) = try exchange(same, try makeServer(.sha256, provider))
        guard case .success(let identity, _) = ok else {
            Issue.record("expected success, got \(ok)")
            return
        }
        #expect(identity.username == "alice")

        let other = SCRAMClient(mechanism: .sha256, username: "alice", password: SASLPassword("alice-secret"), authorizationID: "admin")
        let (refused, _) = try exchange(other, try makeServer(.sha256, provider))
        #expect(failure(refused) != nil)
    }

    @Test(arguments: SCRAMServerProvider.allCases, [
        "", "n", "garbage garbage", "x,,n=alice,r=abc", "n,,n=alice", "n,,r=abc", "n,,m=ext,n=alice,r=abc",
        "n,,n=al=ZZice,r=abcdefgh", "n,,n=alice,r=abc\u{0}def", String(repeating: "A", count: 100_000),
        "p=tls-unique,,n=alice,r=abcdefgh", "n,a=al=ZZ,n=alice,r=abcdefgh", "n,,n=,r=abcdefgh", "n,,n=alice,r=",
    ])
    func malformedClientFirstFails(provider: SCRAMServerProvider, message: String) throws {
        // Cyrus is lenient with these two (it offers a challenge); the built-in server is not.
        if provider == .cyrus && (message.hasPrefix("p=") || message.hasSuffix("r=")) { return }
        let server = try makeServer(.sha256, provider)
        let step = server.start(clientFirst: Array(message.utf8))
        let failed = try #require(failure(step), "expected failure for \(message.prefix(40)), got \(step)")
        #expect(failed.clientMessage.hasPrefix("Authentication failed"))
    }

    @Test(arguments: SCRAMServerProvider.allCases, ["", "garbage", "c=biws,r=wrongnonce,p=AAAA", "c=biws,r=x", "c=%%%,r=x,p=y"])
    func malformedClientFinalFails(provider: SCRAMServerProvider, message: String) throws {
        let server = try makeServer(.sha256, provider)
        let client = SCRAMClient(mechanism: .sha256, username: "alice", password: SASLPassword("alice-secret"))
        guard case .challenge = server.start(clientFirst: try client.initialResponse()) else {
            Issue.record("no server-first")
            return
        }
        #expect(failure(server.step(response: Array(message.utf8))) != nil)
    }

    @Test(arguments: SCRAMServerProvider.allCases)
    func messagesAfterTheEndAreRefused(provider: SCRAMServerProvider) throws {
        let server = try makeServer(.sha256, provider)
        let client = SCRAMClient(mechanism: .sha256, username: "alice", password: SASLPassword("alice-secret"))
        let (step, _) = try exchange(client, server)
        guard case .success = step else {
            Issue.record("expected success")
            return
        }
        #expect(failure(server.step(response: Array("again".utf8)))?.reason == .unexpectedMessage)
        #expect(failure(server.start(clientFirst: Array("n,,n=alice,r=abc".utf8)))?.reason == .unexpectedMessage)

        let fresh = try makeServer(.sha256, provider)
        #expect(failure(fresh.step(response: Array("c=biws".utf8)))?.reason == .unexpectedMessage)
    }

    /// Older librdkafka (Debian 12's 2.0.2) repeats its client nonce before the combined nonce in
    /// client-final. Kafka accepts it;
    /// so does the built-in server. Cyrus (strict RFC 5802) refuses it — why the built-in is the default.
    @Test(arguments: SCRAMMechanism.allCases)
    func librdkafkasNonceForm(mechanism: SCRAMMechanism) throws {
        for provider in SCRAMServerProvider.allCases {
            let client = SCRAMClient(mechanism: mechanism, username: "alice", password: SASLPassword("alice-secret"))
            client.repeatsClientNonce = true
            let (step, clientError) = try exchange(client, try makeServer(mechanism, provider))
            if provider == .builtin {
                #expect(clientError == nil)
                guard case .success(let identity, _) = step else {
                    Issue.record("built-in refused librdkafka's nonce form: \(step)")
                    continue
                }
                #expect(identity.username == "alice")
            } else {
                #expect(failure(step)?.reason == .malformedMessage)
            }
        }
    }

    @Test func builtinRefusesDelegationTokensAndForeignNonces() throws {
        let token = try makeServer(.sha256, .builtin)
        #expect(failure(token.start(clientFirst: Array("n,,n=alice,r=abcdefgh,tokenauth=true".utf8)))?.reason == .invalidCredentials)

        let withExtension = try makeServer(.sha256, .builtin)
        guard case .challenge = withExtension.start(clientFirst: Array("n,,n=alice,r=abcdefgh,ext=1".utf8)) else {
            Issue.record("an unknown optional extension was refused")
            return
        }

        // A nonce that merely ends with the combined nonce (Kafka's endsWith) is not accepted.
        let client = SCRAMClient(mechanism: .sha256, username: "alice", password: SASLPassword("alice-secret"), nonce: "abcdefgh")
        let strict = try makeServer(.sha256, .builtin)
        guard case .challenge(let serverFirst) = strict.start(clientFirst: try client.initialResponse()) else {
            Issue.record("no server-first")
            return
        }
        let nonce = try #require(SCRAMClient.attributes(String(decoding: serverFirst, as: UTF8.self))["r"])
        let forged = "c=biws,r=XX\(nonce),p=\(Base64.encode([UInt8](repeating: 1, count: 32)))"
        #expect(failure(strict.step(response: Array(forged.utf8)))?.reason == .malformedMessage)
    }

    @Test func saslNames() {
        #expect(SCRAMServer.decodeSaslName("a=2Cb=3Dc") == "a,b=c")
        #expect(SCRAMServer.decodeSaslName("a=2") == nil)
        #expect(SCRAMServer.decodeSaslName("a=ZZ") == nil)
        #expect(SCRAMServer.decodeSaslName("a,b") == nil)
        #expect(SCRAMServer.decodeSaslName("élan") == "élan")
    }
}
