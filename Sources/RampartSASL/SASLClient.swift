/// The client side of a SASL exchange, for Rampart's own client and for testing the server in
/// memory. The client speaks first: `initialResponse()`, then `evaluate(challenge:)` for each server
/// message until it returns nil (the exchange is complete and, for SCRAM, the server proved it knows
/// the credential).
public protocol SASLClientMechanism: AnyObject {
    var mechanism: SASLMechanism { get }
    /// The first client message.
    func initialResponse() throws(SASLClientError) -> [UInt8]
    /// The answer to a server message, or nil when the server's message completed the exchange.
    func evaluate(challenge: [UInt8]) throws(SASLClientError) -> [UInt8]?
}

/// Why the client side refused the server's messages. Never contains the password.
public struct SASLClientError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// SASL PLAIN (RFC 4616): one message carrying the password. Use it only over TLS.
public final class PLAINClient: SASLClientMechanism {
    public let mechanism: SASLMechanism = .plain
    private let username: String
    private let password: SASLPassword
    private let authorizationID: String

    public init(username: String, password: SASLPassword, authorizationID: String = "") {
        self.username = username
        self.password = password
        self.authorizationID = authorizationID
    }

    public func initialResponse() throws(SASLClientError) -> [UInt8] {
        Array(authorizationID.utf8) + [0] + Array(username.utf8) + [0] + password.bytes
    }

    public func evaluate(challenge: [UInt8]) throws(SASLClientError) -> [UInt8]? { nil }
}

/// SCRAM-SHA-256 / SCRAM-SHA-512 (RFC 5802, RFC 7677) without channel binding, as Kafka clients
/// speak it. The server's iteration count must be within `SCRAMMechanism.minIterations...maxIterations`
/// (a weaker one would be a downgrade, a much larger one a way to make the client burn CPU), its nonce
/// must extend ours, and its final signature must match.
public final class SCRAMClient: SASLClientMechanism {
    public let mechanism: SASLMechanism
    private let scram: SCRAMMechanism
    private let username: String
    private let password: SASLPassword
    private let authorizationID: String?
    private let clientNonce: String

    private enum State {
        case initial
        case sentClientFirst(clientFirstBare: String)
        case sentClientFinal(serverSignature: [UInt8])
        case complete
        case failed
    }

    private var state = State.initial
    /// Sends the client nonce before the combined nonce in client-final, as older librdkafka does (tests).
    var repeatsClientNonce = false

    /// `nonce` is for tests; by default 24 random bytes, base64-encoded.
    public init(mechanism: SCRAMMechanism, username: String, password: SASLPassword, authorizationID: String? = nil, nonce: String? = nil) {
        self.mechanism = mechanism.saslMechanism
        self.scram = mechanism
        self.username = username
        self.password = password
        self.authorizationID = authorizationID
        self.clientNonce = nonce ?? Base64.encode(SCRAMCrypto.randomBytes(24))
    }

    private var gs2Header: String { "n," + (authorizationID.map { "a=" + Self.escape($0) } ?? "") + "," }

    public func initialResponse() throws(SASLClientError) -> [UInt8] {
        guard case .initial = state else { throw fail("initialResponse() called twice") }
        let bare = "n=\(Self.escape(username)),r=\(clientNonce)"
        state = .sentClientFirst(clientFirstBare: bare)
        return Array((gs2Header + bare).utf8)
    }

    public func evaluate(challenge: [UInt8]) throws(SASLClientError) -> [UInt8]? {
        switch state {
        case .sentClientFirst(let bare):
            return try clientFinal(serverFirst: challenge, clientFirstBare: bare)
        case .sentClientFinal(let expected):
            try verify(serverFinal: challenge, expected: expected)
            state = .complete
            return nil
        case .initial, .complete, .failed:
            throw fail("unexpected server message")
        }
    }

    private func clientFinal(serverFirst bytes: [UInt8], clientFirstBare: String) throws(SASLClientError) -> [UInt8] {
        guard let serverFirst = String(validating: bytes, as: UTF8.self) else { throw fail("server-first message is not UTF-8") }
        let attributes = Self.attributes(serverFirst)
        guard let nonce = attributes["r"], let saltText = attributes["s"], let iterationText = attributes["i"] else {
            throw fail(serverFirst.hasPrefix("e=") ? "server refused: \(serverFirst.dropFirst(2))" : "malformed server-first message")
        }
        guard attributes["m"] == nil else { throw fail("server requires an unsupported extension") }
        guard nonce.hasPrefix(clientNonce), nonce.count > clientNonce.count else { throw fail("server nonce does not extend the client nonce") }
        guard let salt = Base64.decode(saltText), !salt.isEmpty else { throw fail("malformed salt in server-first message") }
        guard let iterations = Int(iterationText),
              (SCRAMMechanism.minIterations...SCRAMMechanism.maxIterations).contains(iterations) else {
            throw fail("server asked for \(iterationText) iterations, outside \(SCRAMMechanism.minIterations)...\(SCRAMMechanism.maxIterations)")
        }
        let withoutProof = "c=\(Base64.encode(Array(gs2Header.utf8))),r=\(repeatsClientNonce ? clientNonce + nonce : nonce)"
        let authMessage = Array("\(clientFirstBare),\(serverFirst),\(withoutProof)".utf8)
        let salted = SCRAMCrypto.saltedPassword(password.bytes, salt: salt, iterations: iterations, mechanism: scram)
        let clientKey = SCRAMCrypto.hmac(key: salted, SCRAMCrypto.clientKeyLabel, mechanism: scram)
        let storedKey = SCRAMCrypto.hash(clientKey, mechanism: scram)
        let clientSignature = SCRAMCrypto.hmac(key: storedKey, authMessage, mechanism: scram)
        let proof = SCRAMCrypto.xor(clientKey, clientSignature)
        let serverKey = SCRAMCrypto.hmac(key: salted, SCRAMCrypto.serverKeyLabel, mechanism: scram)
        state = .sentClientFinal(serverSignature: SCRAMCrypto.hmac(key: serverKey, authMessage, mechanism: scram))
        return Array("\(withoutProof),p=\(Base64.encode(proof))".utf8)
    }

    private func verify(serverFinal bytes: [UInt8], expected: [UInt8]) throws(SASLClientError) {
        guard let serverFinal = String(validating: bytes, as: UTF8.self) else { throw fail("server-final message is not UTF-8") }
        let attributes = Self.attributes(serverFinal)
        if let error = attributes["e"] { throw fail("server refused: \(error)") }
        guard let signature = attributes["v"].flatMap({ Base64.decode($0) }) else { throw fail("malformed server-final message") }
        guard SCRAMCrypto.constantTimeEquals(signature, expected) else { throw fail("the server's signature is wrong (it does not know the credential)") }
    }

    private func fail(_ message: String) -> SASLClientError {
        state = .failed
        return SASLClientError("\(mechanism.name): \(message)")
    }

    /// `a=1,b=2` → ["a": "1", "b": "2"] (values may contain '=').
    static func attributes(_ message: String) -> [String: String] {
        var result: [String: String] = [:]
        for field in message.split(separator: ",", omittingEmptySubsequences: false) {
            guard field.count >= 2, field.dropFirst().first == "=" else { continue }
            let key = String(field.prefix(1))
            if result[key] == nil { result[key] = String(field.dropFirst(2)) }
        }
        return result
    }

    /// saslname escaping (RFC 5802 §5.1): ',' → "=2C", '=' → "=3D".
    static func escape(_ name: String) -> String {
        name.replacingOccurrences(",", "=2C", "=", "=3D")
    }
}

private extension String {
    /// Replaces `a` with `aa` and `b` with `bb` in one pass (no Foundation here).
    func replacingOccurrences(_ a: Character, _ aa: String, _ b: Character, _ bb: String) -> String {
        var out = ""
        for character in self {
            if character == a { out += aa } else if character == b { out += bb } else { out.append(character) }
        }
        return out
    }
}
