/// The server side of SCRAM-SHA-256 / SCRAM-SHA-512 (RFC 5802, RFC 7677) with Kafka's rules
/// (`ScramSaslServer`), in Swift over OpenSSL's primitives:
///
/// - client-first: `n` or `y` channel-binding flag (no channel binding is offered), an optional
///   authorization id that must be the user, `n=<saslname>,r=<nonce>` and optional extensions. The
///   `tokenauth=true` extension (a Kafka delegation token) is refused: this broker issues none.
/// - client-final: the channel binding must be the GS2 header sent; the nonce must be the combined
///   nonce — or, as older librdkafka sends it (Debian 12's 2.0.2, kcat's), the client nonce followed
///   by the combined nonce, which Kafka accepts (it checks `endsWith`) and Cyrus refuses; the proof is
///   checked against StoredKey in constant time.
///
/// An unknown user gets a decoy credential and fails at the proof, like a wrong password.
final class SCRAMServer: SASLServerMechanism {
    let mechanism: SASLMechanism
    private let scram: SCRAMMechanism
    private let credentials: SCRAMCredentials

    private enum State {
        case initial
        case sentServerFirst(Exchange)
        case finished
    }

    private struct Exchange {
        var username: String
        var credential: SCRAMCredential
        var userIsKnown: Bool
        var gs2Header: String
        var clientNonce: String
        var combinedNonce: String
        var clientFirstBare: String
        var serverFirst: String
    }

    private var state = State.initial

    init(mechanism: SCRAMMechanism, credentials: SCRAMCredentials) {
        self.mechanism = mechanism.saslMechanism
        self.scram = mechanism
        self.credentials = credentials
    }

    func start(clientFirst: [UInt8]) -> SASLServerStep {
        guard case .initial = state else { return fail(.unexpectedMessage, "a second client-first message") }
        guard let message = Self.text(clientFirst) else { return fail(.malformedMessage, "client-first is not printable UTF-8") }

        // gs2-header = gs2-cbind-flag "," [ authzid ] ","
        let flag = message.prefix(2)
        guard flag == "n," || flag == "y," else {
            return fail(.malformedMessage, message.hasPrefix("p=") ? "channel binding requested; none is offered" : "bad GS2 header")
        }
        let afterFlag = message.dropFirst(2)
        guard let headerEnd = afterFlag.firstIndex(of: ",") else { return fail(.malformedMessage, "unterminated GS2 header") }
        let authzidField = afterFlag[..<headerEnd]
        var authorizationID = ""
        if !authzidField.isEmpty {
            guard authzidField.hasPrefix("a="), let decoded = Self.decodeSaslName(authzidField.dropFirst(2)) else {
                return fail(.malformedMessage, "bad authorization id")
            }
            authorizationID = decoded
        }
        let gs2Header = String(message[..<afterFlag.index(after: headerEnd)])
        let bare = String(afterFlag[afterFlag.index(after: headerEnd)...])

        // client-first-message-bare = "n=" saslname "," "r=" c-nonce ["," extensions]
        let fields = bare.split(separator: ",", omittingEmptySubsequences: false)
        guard fields.count >= 2, fields[0].hasPrefix("n="), fields[1].hasPrefix("r=") else {
            return fail(.malformedMessage, bare.hasPrefix("m=") ? "mandatory extension" : "expected n=<user>,r=<nonce>")
        }
        guard let username = Self.decodeSaslName(fields[0].dropFirst(2)), !username.isEmpty else {
            return fail(.malformedMessage, "bad user name encoding")
        }
        let clientNonce = String(fields[1].dropFirst(2))
        guard !clientNonce.isEmpty, clientNonce.utf8.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E && $0 != UInt8(ascii: ",") }) else {
            return fail(.malformedMessage, "bad client nonce")
        }
        // Extensions are key=value; Kafka's keys are words (`tokenauth`), not RFC 5802's single letters.
        for extensionField in fields.dropFirst(2) {
            guard let equals = extensionField.firstIndex(of: "="), equals != extensionField.startIndex,
                  extensionField[..<equals].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else {
                return fail(.malformedMessage, "bad extension")
            }
            if extensionField.lowercased() == "tokenauth=true" {
                return fail(.invalidCredentials, "delegation-token authentication (tokenauth) for user '\(username)'; none are issued")
            }
        }
        guard authorizationID.isEmpty || authorizationID == username else {
            state = .finished
            return .failure(SASLAuthenticationFailure(
                reason: .authorizationIDMismatch,
                clientMessage: "Authentication failed: Client requested an authorization id that is different from username",
                detail: "\(mechanism.name): authorization id '\(authorizationID)' for user '\(username)'"))
        }

        let stored = credentials(username, scram)
        let credential = stored ?? credentials.decoy(username, scram)
        let combinedNonce = clientNonce + Base64.encode(SCRAMCrypto.randomBytes(24))
        let serverFirst = "r=\(combinedNonce),s=\(Base64.encode(credential.salt)),i=\(credential.iterations)"
        state = .sentServerFirst(Exchange(
            username: username, credential: credential, userIsKnown: stored != nil, gs2Header: gs2Header,
            clientNonce: clientNonce, combinedNonce: combinedNonce, clientFirstBare: bare, serverFirst: serverFirst))
        return .challenge(Array(serverFirst.utf8))
    }

    func step(response: [UInt8]) -> SASLServerStep {
        guard case .sentServerFirst(let exchange) = state else {
            return fail(.unexpectedMessage, "a message \(isFinished ? "after the exchange ended" : "before client-first")")
        }
        guard let message = Self.text(response) else { return fail(.malformedMessage, "client-final is not printable UTF-8") }

        // client-final-message = "c=" base64 "," "r=" nonce ["," extensions] "," "p=" proof
        guard let proofRange = message.ranges(of: ",p=").last else { return fail(.malformedMessage, "no proof") }
        let withoutProof = String(message[..<proofRange.lowerBound])
        let fields = withoutProof.split(separator: ",", omittingEmptySubsequences: false)
        guard fields.count >= 2, fields[0].hasPrefix("c="), fields[1].hasPrefix("r=") else {
            return fail(.malformedMessage, "expected c=<binding>,r=<nonce>")
        }
        guard Base64.decode(fields[0].dropFirst(2)) == Array(exchange.gs2Header.utf8) else {
            return fail(.malformedMessage, "channel binding does not match the GS2 header")
        }
        let nonce = fields[1].dropFirst(2)
        guard nonce == exchange.combinedNonce || nonce == exchange.clientNonce + exchange.combinedNonce else {
            return fail(.malformedMessage, "nonce mismatch")
        }
        guard let proof = Base64.decode(message[proofRange.upperBound...]), proof.count == scram.digestSize else {
            return fail(.malformedMessage, "bad proof")
        }

        let credential = exchange.credential
        let authMessage = Array("\(exchange.clientFirstBare),\(exchange.serverFirst),\(withoutProof)".utf8)
        let clientSignature = SCRAMCrypto.hmac(key: credential.storedKey, authMessage, mechanism: scram)
        let clientKey = SCRAMCrypto.xor(proof, clientSignature)
        let proofHolds = SCRAMCrypto.constantTimeEquals(SCRAMCrypto.hash(clientKey, mechanism: scram), credential.storedKey)
        guard proofHolds, exchange.userIsKnown else {
            return fail(.invalidCredentials, exchange.userIsKnown ? "wrong proof for user '\(exchange.username)'" : "unknown user '\(exchange.username)'")
        }
        state = .finished
        let serverSignature = SCRAMCrypto.hmac(key: credential.serverKey, authMessage, mechanism: scram)
        return .success(SASLIdentity(username: exchange.username), finalData: Array("v=\(Base64.encode(serverSignature))".utf8))
    }

    private var isFinished: Bool {
        if case .finished = state { return true }
        return false
    }

    private func fail(_ reason: SASLAuthenticationFailure.Reason, _ detail: String) -> SASLServerStep {
        state = .finished
        return .failure(SASLAuthenticationFailure(reason: reason, clientMessage: SASLServerMechanisms.invalidCredentialsMessage(mechanism),
                                                  detail: "\(mechanism.name): \(detail)"))
    }

    /// The message as text: valid UTF-8 without NUL or other control characters.
    private static func text(_ bytes: [UInt8]) -> String? {
        guard !bytes.isEmpty, bytes.count <= 4096, !bytes.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }

    /// saslname (RFC 5802 §5.1): "=2C" is ',', "=3D" is '='; any other '=' is invalid.
    static func decodeSaslName(_ encoded: Substring) -> String? {
        var out = ""
        var index = encoded.startIndex
        while index < encoded.endIndex {
            let character = encoded[index]
            if character == "=" {
                let code = encoded[encoded.index(after: index)...].prefix(2)
                switch code {
                case "2C": out.append(",")
                case "3D": out.append("=")
                default: return nil
                }
                index = encoded.index(index, offsetBy: 3)
            } else if character == "," {
                return nil
            } else {
                out.append(character)
                index = encoded.index(after: index)
            }
        }
        return out
    }
}
