import Foundation
import RampartSASL

/// The client side of `security.protocol=SASL_PLAINTEXT|SASL_SSL`: which mechanism, and the
/// credentials it uses.
///
/// Read from client properties under librdkafka's and Java's names (see `apply(_:)`). The password is
/// a `SASLPassword`: printing, dumping or interpolating this value shows `<redacted>`, and it is never
/// part of an error message.
public struct ClientSASLConfig: Sendable, Equatable, CustomStringConvertible, CustomReflectable {
    /// The mechanism (`sasl.mechanism`, `sasl.mechanisms`); nil until configured. Kafka's default,
    /// GSSAPI, is not spoken by this client, so a SASL protocol needs one named.
    public var mechanism: SASLMechanism?
    /// The user name (`sasl.username`, or `username` in `sasl.jaas.config`).
    public var username: String?
    /// The password (`sasl.password`, or `password` in `sasl.jaas.config`).
    public var password: SASLPassword?
    /// For OAUTHBEARER: a file holding the token (a compact JWS), read at every login and
    /// re-authentication so a token refreshed on disk is picked up (`sasl.oauthbearer.token.endpoint.url`
    /// with a `file:` URL, as Kafka's KIP-768 login handler takes it).
    public var oauthBearerTokenFile: String?

    /// No mechanism and no credentials.
    public init(mechanism: SASLMechanism? = nil, username: String? = nil, password: SASLPassword? = nil, oauthBearerTokenFile: String? = nil) {
        self.mechanism = mechanism
        self.username = username
        self.password = password
        self.oauthBearerTokenFile = oauthBearerTokenFile
    }

    /// The SASL client properties `apply(_:)` reads.
    public static let propertyKeys: Set<String> = [
        "sasl.mechanism", "sasl.mechanisms", "sasl.username", "sasl.password", "sasl.jaas.config",
        "sasl.kerberos.service.name", "sasl.oauthbearer.token.endpoint.url", "sasl.login.callback.handler.class",
    ]

    /// Properties whose values are secrets: read here, never kept in `ClientConfig.properties`.
    public static let secretKeys: Set<String> = ["sasl.password", "sasl.jaas.config"]

    /// The login modules `sasl.jaas.config` may name, with the mechanisms each serves.
    static let loginModules: [String: Set<SASLMechanism>] = [
        "org.apache.kafka.common.security.scram.ScramLoginModule": [.scramSHA256, .scramSHA512],
        "org.apache.kafka.common.security.plain.PlainLoginModule": [.plain],
        "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule": [.oauthBearer],
    ]

    /// Kafka's login callback handlers that fetch a token from `sasl.oauthbearer.token.endpoint.url`.
    static let tokenEndpointHandlers: Set<String> = [
        "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler",
        "org.apache.kafka.common.security.oauthbearer.secured.OAuthBearerLoginCallbackHandler",
    ]

    /// Applies client properties over these settings:
    ///
    /// - the mechanism from `sasl.mechanism` (Java) or `sasl.mechanisms` (librdkafka); both set to
    ///   different values is an error;
    /// - credentials from `sasl.username` + `sasl.password` (librdkafka) or from Java's
    ///   `sasl.jaas.config` with `ScramLoginModule` or `PlainLoginModule` (`username="…" password="…"`);
    ///   both given with different user names is an error.
    ///
    /// Errors name the key and never quote a password or the JAAS text.
    public mutating func apply(_ properties: [String: String]) throws {
        let java = properties["sasl.mechanism"]?.trimmingWhitespace()
        let librdkafka = properties["sasl.mechanisms"]?.trimmingWhitespace()
        if let java, let librdkafka, java.uppercased() != librdkafka.uppercased() {
            throw KafkaClientError.configuration("sasl.mechanism (\(java)) and sasl.mechanisms (\(librdkafka)) differ; set one")
        }
        if let name = java ?? librdkafka {
            let key = java != nil ? "sasl.mechanism" : "sasl.mechanisms"
            guard let parsed = SASLMechanism(name: name.uppercased()), Self.supportedMechanisms.contains(parsed) else {
                throw KafkaClientError.configuration(
                    "\(key): '\(name)' is not supported by the rampart client (use \(Self.clientMechanisms))")
            }
            mechanism = parsed
        }
        if let name = properties["sasl.username"] { username = name }
        if let secret = properties["sasl.password"] { password = SASLPassword(secret) }
        if let text = properties["sasl.jaas.config"] {
            let jaas = try JAASConfig.parse(text)
            guard let served = Self.loginModules[jaas.loginModule] else {
                throw KafkaClientError.configuration(
                    "sasl.jaas.config: login module '\(jaas.loginModule)' is not supported by the rampart client (use "
                        + Self.loginModules.keys.sorted().joined(separator: " or ") + ")")
            }
            if let mechanism, !served.contains(mechanism) {
                throw KafkaClientError.configuration(
                    "sasl.jaas.config: \(jaas.loginModule.split(separator: ".").last!) does not serve SASL mechanism \(mechanism.name)")
            }
            if let name = jaas.options["username"] {
                if let username = properties["sasl.username"], username != name {
                    throw KafkaClientError.configuration("sasl.username and the username in sasl.jaas.config differ; set one")
                }
                username = name
            }
            if let secret = jaas.options["password"] { password = SASLPassword(secret) }
        }
        if let handler = properties["sasl.login.callback.handler.class"]?.trimmingWhitespace(), !Self.tokenEndpointHandlers.contains(handler) {
            throw KafkaClientError.configuration(
                "sasl.login.callback.handler.class: '\(handler)' is not supported by the rampart client (only OAuthBearerLoginCallbackHandler with a file: sasl.oauthbearer.token.endpoint.url)")
        }
        if let url = properties["sasl.oauthbearer.token.endpoint.url"]?.trimmingWhitespace() {
            guard url.hasPrefix("file:"), let path = URL(string: url)?.path, path.hasPrefix("/") else {
                throw KafkaClientError.configuration(
                    "sasl.oauthbearer.token.endpoint.url: '\(url)' is not a file: URL; the rampart client reads the token from a file (file:///path/to/token)")
            }
            oauthBearerTokenFile = path
        }
    }

    /// The mechanisms this client speaks.
    public static let supportedMechanisms: [SASLMechanism] = [.scramSHA256, .scramSHA512, .plain, .oauthBearer]

    /// The mechanisms this client speaks, for error messages.
    static var clientMechanisms: String { supportedMechanisms.map(\.name).joined(separator: ", ") }

    /// A fresh client exchange for one connection; an error names what is missing.
    public func makeMechanism() throws -> any SASLClientMechanism {
        guard let mechanism else {
            throw KafkaClientError.configuration(
                "sasl.mechanism is not set: name one of \(Self.clientMechanisms) (Kafka's default GSSAPI is not supported by the rampart client)")
        }
        if mechanism == .oauthBearer {
            guard let file = oauthBearerTokenFile else {
                throw KafkaClientError.configuration(
                    "SASL mechanism OAUTHBEARER needs a token: set sasl.oauthbearer.token.endpoint.url=file:///path/to/token")
            }
            let token: String
            do {
                token = try String(contentsOfFile: file, encoding: .utf8).trimmingWhitespace()
            } catch {
                throw KafkaClientError.configuration("cannot read the OAUTHBEARER token file \(file): \(error.localizedDescription)")
            }
            guard !token.isEmpty, !token.contains(where: { $0.isWhitespace }) else {
                throw KafkaClientError.configuration("the OAUTHBEARER token file \(file) does not hold one token (a compact JWS)")
            }
            return OAuthBearerClient(token: token)
        }
        guard let username, !username.isEmpty else {
            throw KafkaClientError.configuration("SASL mechanism \(mechanism.name) needs a user name: set sasl.username or username in sasl.jaas.config")
        }
        guard let password, !password.isEmpty else {
            throw KafkaClientError.configuration("SASL mechanism \(mechanism.name) needs a password: set sasl.password or password in sasl.jaas.config")
        }
        if let scram = mechanism.scram {
            return SCRAMClient(mechanism: scram, username: username, password: password)
        }
        return PLAINClient(username: username, password: password)
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.mechanism == rhs.mechanism && lhs.username == rhs.username && lhs.password?.bytes == rhs.password?.bytes
            && lhs.oauthBearerTokenFile == rhs.oauthBearerTokenFile
    }

    /// The mechanism and user; the password shows as `<redacted>`.
    public var description: String {
        "ClientSASLConfig(mechanism: \(mechanism?.name ?? "none"), username: \(username ?? "none"), password: \(password == nil ? "none" : "<redacted>"))"
    }

    public var customMirror: Mirror {
        Mirror(self, children: ["mechanism": mechanism as Any, "username": username as Any, "password": password as Any],
               displayStyle: .struct)
    }
}

/// One login module entry of Java's `sasl.jaas.config`:
/// `<module class> <required|requisite|sufficient|optional> key="value" … ;`.
struct JAASConfig: Equatable {
    var loginModule: String
    var controlFlag: String
    var options: [String: String]

    private enum Token: Equatable {
        case word(String)
        case quoted(String)
        case equals
        case semicolon
    }

    /// Parses one login module (Kafka's clients accept exactly one). Values are words or
    /// double-quoted strings with backslash escapes. Errors never quote a value.
    static func parse(_ text: String) throws -> JAASConfig {
        let tokens = try tokenize(text)
        func fail(_ why: String) -> KafkaClientError {
            KafkaClientError.configuration("sasl.jaas.config: \(why) (expected: <LoginModule> required key=\"value\" …;)")
        }
        guard tokens.count >= 3, case .word(let module) = tokens[0], case .word(let flag) = tokens[1] else {
            throw fail("no login module and control flag")
        }
        guard ["required", "requisite", "sufficient", "optional"].contains(flag.lowercased()) else {
            throw fail("'\(flag)' is not a control flag (required, requisite, sufficient, optional)")
        }
        var options: [String: String] = [:]
        var index = 2
        while index < tokens.count {
            if tokens[index] == .semicolon {
                guard index == tokens.count - 1 else { throw fail("more than one login module") }
                return JAASConfig(loginModule: module, controlFlag: flag.lowercased(), options: options)
            }
            guard index + 2 < tokens.count, case .word(let key) = tokens[index], tokens[index + 1] == .equals else {
                throw fail("an option is not key=value")
            }
            let value: String
            switch tokens[index + 2] {
            case .word(let text), .quoted(let text): value = text
            case .equals, .semicolon: throw fail("option '\(key)' has no value")
            }
            guard options[key] == nil else { throw fail("option '\(key)' is given twice") }
            options[key] = value
            index += 3
        }
        throw fail("missing ';' at the end")
    }

    private static func tokenize(_ text: String) throws -> [Token] {
        var tokens: [Token] = []
        var characters = Substring(text)
        while let next = characters.first {
            if next.isWhitespace {
                characters.removeFirst()
            } else if next == "=" {
                tokens.append(.equals)
                characters.removeFirst()
            } else if next == ";" {
                tokens.append(.semicolon)
                characters.removeFirst()
            } else if next == "\"" {
                characters.removeFirst()
                var value = ""
                var closed = false
                while let character = characters.popFirst() {
                    if character == "\"" {
                        closed = true
                        break
                    }
                    if character == "\\", let escaped = characters.popFirst() {
                        switch escaped {
                        case "n": value.append("\n")
                        case "t": value.append("\t")
                        default: value.append(escaped)
                        }
                    } else {
                        value.append(character)
                    }
                }
                guard closed else { throw KafkaClientError.configuration("sasl.jaas.config: a quoted value is not closed") }
                tokens.append(.quoted(value))
            } else {
                var word = ""
                while let character = characters.first, !character.isWhitespace, character != "=", character != ";", character != "\"" {
                    word.append(character)
                    characters.removeFirst()
                }
                tokens.append(.word(word))
            }
        }
        return tokens
    }
}
