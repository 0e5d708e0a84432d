internal import CRampartSASLShims
internal import CSASL2
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The process-wide Cyrus SASL server library: initialised once, with Rampart's auxprop plugin as the
/// only credential source and every option answered by Rampart (no sasldb, no configuration file, no
/// syslog). Cyrus serves SCRAM (when selected) and GSSAPI; PLAIN is checked in Swift.
///
/// Every call into Cyrus is serialised by one lock: the server side of SCRAM does no key stretching
/// (it gets StoredKey and ServerKey), so the lock is held for microseconds, and Cyrus's own thread
/// safety then does not matter.
enum CyrusSASL {
    /// The mechanisms Cyrus may serve (its `mech_list`); each comes from a plugin on disk, checked when
    /// a listener needs it.
    static let servedMechanisms: [String] = ["SCRAM-SHA-256", "SCRAM-SHA-512", "GSSAPI"]
    /// The Debian package holding each mechanism's plugin, for error messages.
    static let pluginPackages = ["SCRAM-SHA-256": "libsasl2-modules", "SCRAM-SHA-512": "libsasl2-modules", "GSSAPI": "libsasl2-modules-gssapi-mit"]

    private enum State {
        case uninitialised
        case ready
        case failed(SASLError)
    }

    private static let state = Mutex(State.uninitialised)
    /// Serialises every Cyrus call.
    static let lock = Mutex(())

    /// Initialises Cyrus on first use (later calls reuse the first outcome) and checks that the plugins
    /// of `mechanisms` are installed (Debian's libsasl2-modules for SCRAM, libsasl2-modules-gssapi-mit
    /// for GSSAPI); throws naming what is missing.
    static func initialize(requiring mechanisms: [String]) throws(SASLError) {
        let outcome: State = state.withLock { state in
            if case .uninitialised = state {
                state = initializeOnce()
            }
            return state
        }
        if case .failed(let error) = outcome { throw error }
        let available = availableMechanisms()
        let missing = mechanisms.filter { !available.contains($0) }
        if !missing.isEmpty {
            let packages = Set(missing.compactMap { pluginPackages[$0] }).sorted().joined(separator: ", ")
            throw SASLError("Cyrus SASL does not offer \(missing.joined(separator: ", ")) (is \(packages) installed?)")
        }
    }

    private static func initializeOnce() -> State {
        let mechList = servedMechanisms.joined(separator: " ")
        let result = lock.withLock { _ in rampart_sasl_server_init(mechList, credentialLookupTrampoline) }
        guard result == SASL_OK else {
            return .failed(SASLError("Cyrus SASL initialisation failed: \(String(cString: sasl_errstring(result, nil, nil)))"))
        }
        return .ready
    }

    /// The mechanisms a fresh Cyrus server connection offers.
    private static func availableMechanisms() -> Set<String> {
        lock.withLock { _ in
            var connection: OpaquePointer?
            guard sasl_server_new("kafka", "localhost", nil, nil, nil, nil, UInt32(SASL_SUCCESS_DATA), &connection) == SASL_OK else {
                return []
            }
            defer { sasl_dispose(&connection) }
            var list: UnsafePointer<CChar>?
            guard sasl_listmech(connection, nil, "", " ", "", &list, nil, nil) == SASL_OK, let list else { return [] }
            return Set(String(cString: list).split(separator: " ").map(String.init))
        }
    }
}

/// Called by the auxprop plugin (on the thread that is inside sasl_server_start/step) with the
/// context of the connection being stepped.
private let credentialLookupTrampoline: rampart_sasl_credential_lookup_fn = { context, user, length in
    guard let context, let user else { return nil }
    let source = Unmanaged<CyrusCredentialSource>.fromOpaque(context).takeUnretainedValue()
    let name = String(decoding: UnsafeRawBufferPointer(start: user, count: Int(length)), as: UTF8.self)
    return strdup(source.authPassword(for: name))
}

/// What the plugin asks during one connection's exchange: the stored credential of the user, or a
/// decoy for an unknown user (so the exchange fails at the proof, like a wrong password).
final class CyrusCredentialSource {
    let mechanism: SCRAMMechanism
    let credentials: SCRAMCredentials
    /// The user Cyrus asked for, and whether they were known (for the debug log only).
    private(set) var requestedUser: String?
    private(set) var userWasKnown = false

    init(mechanism: SCRAMMechanism, credentials: SCRAMCredentials) {
        self.mechanism = mechanism
        self.credentials = credentials
    }

    func authPassword(for username: String) -> String {
        requestedUser = username
        if let credential = credentials(username, mechanism) {
            userWasKnown = true
            return credential.authPassword
        }
        userWasKnown = false
        return credentials.decoy(username, mechanism).authPassword
    }
}

/// A SCRAM-SHA-256 or SCRAM-SHA-512 exchange served by Cyrus (one `sasl_conn_t`).
final class CyrusSCRAMServer: SASLServerMechanism {
    let mechanism: SASLMechanism
    private let scram: SCRAMMechanism
    private let source: CyrusCredentialSource
    private var connection: OpaquePointer?
    private var started = false
    private var finished = false

    init(mechanism: SCRAMMechanism, credentials: SCRAMCredentials) throws(SASLError) {
        try CyrusSASL.initialize(requiring: [mechanism.name])
        self.mechanism = mechanism.saslMechanism
        self.scram = mechanism
        self.source = CyrusCredentialSource(mechanism: mechanism, credentials: credentials)
        var connection: OpaquePointer?
        // A fixed server name: a null one would make Cyrus resolve the host name (DNS) per connection.
        let result = CyrusSASL.lock.withLock { _ in
            sasl_server_new("kafka", "localhost", nil, nil, nil, nil, UInt32(SASL_SUCCESS_DATA), &connection)
        }
        guard result == SASL_OK, connection != nil else {
            throw SASLError("sasl_server_new failed: \(String(cString: sasl_errstring(result, nil, nil)))")
        }
        self.connection = connection
    }

    deinit {
        CyrusSASL.lock.withLock { _ in sasl_dispose(&connection) }
    }

    func start(clientFirst: [UInt8]) -> SASLServerStep {
        guard !started else { return unexpected("a second client-first message") }
        started = true
        // Cyrus would answer an empty message with an empty challenge ("send your first message");
        // Kafka clients always send client-first at once, so an empty one is malformed.
        guard !clientFirst.isEmpty else {
            finished = true
            return .failure(SASLAuthenticationFailure(reason: .malformedMessage, clientMessage: invalidCredentialsMessage,
                                                      detail: "\(mechanism.name): empty client-first message"))
        }
        return run { connection, output, outputLength in
            clientFirst.withUnsafeBufferPointer { input in
                input.withMemoryRebound(to: CChar.self) { chars in
                    sasl_server_start(connection, scram.name, chars.baseAddress, UInt32(input.count), &output, &outputLength)
                }
            }
        }
    }

    func step(response: [UInt8]) -> SASLServerStep {
        guard started, !finished else { return unexpected(started ? "a message after the exchange ended" : "a message before client-first") }
        return run { connection, output, outputLength in
            response.withUnsafeBufferPointer { input in
                input.withMemoryRebound(to: CChar.self) { chars in
                    sasl_server_step(connection, chars.baseAddress, UInt32(input.count), &output, &outputLength)
                }
            }
        }
    }

    private func unexpected(_ what: String) -> SASLServerStep {
        finished = true
        return .failure(SASLAuthenticationFailure(reason: .unexpectedMessage, clientMessage: invalidCredentialsMessage,
                                                  detail: "\(mechanism.name): \(what)"))
    }

    private var invalidCredentialsMessage: String {
        SASLServerMechanisms.invalidCredentialsMessage(mechanism)
    }

    /// Runs one Cyrus call with this connection's credential source installed for the plugin.
    private func run(_ call: (OpaquePointer?, inout UnsafePointer<CChar>?, inout UInt32) -> Int32) -> SASLServerStep {
        let context = Unmanaged.passUnretained(source).toOpaque()
        return CyrusSASL.lock.withLock { _ -> SASLServerStep in
            rampart_sasl_set_lookup_context(context)
            defer { rampart_sasl_set_lookup_context(nil) }
            var output: UnsafePointer<CChar>?
            var outputLength: UInt32 = 0
            let result = call(connection, &output, &outputLength)
            let bytes = output.map { Array(UnsafeRawBufferPointer(start: $0, count: Int(outputLength))) } ?? []
            switch result {
            case SASL_CONTINUE:
                return .challenge(bytes)
            case SASL_OK:
                finished = true
                var username: UnsafeRawPointer?
                guard sasl_getprop(connection, SASL_USERNAME, &username) == SASL_OK, let username else {
                    return .failure(SASLAuthenticationFailure(reason: .internalError, clientMessage: invalidCredentialsMessage,
                                                              detail: "\(mechanism.name): Cyrus reported success without a user name"))
                }
                return .success(SASLIdentity(username: String(cString: username.assumingMemoryBound(to: CChar.self))), finalData: bytes)
            default:
                finished = true
                return .failure(failure(result))
            }
        }
    }

    private func failure(_ result: Int32) -> SASLAuthenticationFailure {
        let detail = String(cString: sasl_errdetail(connection))
        let user = source.requestedUser.map { " user '\($0)'\(source.userWasKnown ? "" : " (unknown)")" } ?? ""
        let reason: SASLAuthenticationFailure.Reason
        switch result {
        case SASL_BADAUTH, SASL_NOUSER, SASL_NOAUTHZ:
            reason = source.requestedUser != nil && result == SASL_NOAUTHZ ? .authorizationIDMismatch : .invalidCredentials
        case SASL_BADPROT:
            reason = .malformedMessage
        default:
            reason = source.requestedUser == nil ? .malformedMessage : .internalError
        }
        return SASLAuthenticationFailure(reason: reason, clientMessage: invalidCredentialsMessage,
                                         detail: "\(mechanism.name)\(user): \(detail)")
    }
}

/// A failure of the SASL library itself (not of a client's authentication).
public struct SASLError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
