internal import CRampartSASLShims
internal import CSASL2

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The broker's Kerberos identity for GSSAPI, and how client principals become user names.
public struct GSSAPIServerSettings: Sendable {
    /// The service (`sasl.kerberos.service.name`, e.g. `kafka`): the first component of the broker's
    /// principal, and what clients ask tickets for.
    public var serviceName: String
    /// The host component of the broker's principal (`kafka/<host>@REALM`).
    public var hostName: String
    /// The keytab holding the broker's key (`rampart.sasl.kerberos.keytab`). The process has one
    /// (MIT Kerberos reads it from `KRB5_KTNAME`), so every listener uses the same file.
    public var keytab: String
    /// `sasl.kerberos.principal.to.local.rules`.
    public var rules: KerberosPrincipalRules

    public init(serviceName: String, hostName: String, keytab: String, rules: KerberosPrincipalRules) {
        self.serviceName = serviceName
        self.hostName = hostName
        self.keytab = keytab
        self.rules = rules
    }

    /// Points MIT Kerberos at the keytab (`KRB5_KTNAME`) and checks that Cyrus has its GSSAPI plugin.
    /// Call at start-up, before any exchange.
    public func prepare() throws(SASLError) {
        guard access(keytab, R_OK) == 0 else { throw SASLError("cannot read the keytab \(keytab)") }
        setenv("KRB5_KTNAME", "FILE:\(keytab)", 1)
        try CyrusSASL.initialize(requiring: [SASLMechanism.gssapi.name])
    }
}

/// SASL GSSAPI (Kerberos V5, RFC 4752) served by Cyrus's GSSAPI plugin, as Kafka clients speak it:
/// no security layer (Kafka's QOP `auth`: the Kafka protocol is never wrapped). The client's Kerberos
/// principal (`SASL_GSS_PEER_NAME`, e.g. `alice@EXAMPLE.COM`) is mapped by the principal rules to the
/// user name; a principal no rule maps cannot log in.
final class CyrusGSSAPIServer: SASLServerMechanism {
    let mechanism: SASLMechanism = .gssapi
    private let settings: GSSAPIServerSettings
    private var connection: OpaquePointer?
    private var started = false
    private var finished = false

    init(settings: GSSAPIServerSettings) throws(SASLError) {
        try CyrusSASL.initialize(requiring: [SASLMechanism.gssapi.name])
        self.settings = settings
        var connection: OpaquePointer?
        let result = CyrusSASL.lock.withLock { _ -> Int32 in
            let created = sasl_server_new(settings.serviceName, settings.hostName, nil, nil, nil, nil, UInt32(SASL_SUCCESS_DATA), &connection)
            guard created == SASL_OK, let connection else { return created }
            // No integrity or confidentiality layer: Kafka frames are never wrapped.
            var properties = sasl_security_properties_t()
            properties.min_ssf = 0
            properties.max_ssf = 0
            properties.maxbufsize = 0
            return sasl_setprop(connection, SASL_SEC_PROPS, &properties)
        }
        guard result == SASL_OK, connection != nil else {
            if connection != nil { CyrusSASL.lock.withLock { _ in sasl_dispose(&connection) } }
            throw SASLError("sasl_server_new for GSSAPI failed: \(String(cString: sasl_errstring(result, nil, nil)))")
        }
        self.connection = connection
    }

    deinit {
        CyrusSASL.lock.withLock { _ in sasl_dispose(&connection) }
    }

    func start(clientFirst: [UInt8]) -> SASLServerStep {
        guard !started else { return fail(.unexpectedMessage, "a second initial token") }
        started = true
        guard !clientFirst.isEmpty else { return fail(.malformedMessage, "empty initial token") }
        return run { connection, output, outputLength in
            clientFirst.withUnsafeBufferPointer { input in
                input.withMemoryRebound(to: CChar.self) { chars in
                    sasl_server_start(connection, SASLMechanism.gssapi.name, chars.baseAddress, UInt32(input.count), &output, &outputLength)
                }
            }
        }
    }

    func step(response: [UInt8]) -> SASLServerStep {
        guard started, !finished else { return fail(.unexpectedMessage, started ? "a message after the exchange ended" : "a message before the initial token") }
        return run { connection, output, outputLength in
            response.withUnsafeBufferPointer { input in
                input.withMemoryRebound(to: CChar.self) { chars in
                    sasl_server_step(connection, chars.baseAddress, UInt32(input.count), &output, &outputLength)
                }
            }
        }
    }

    private func fail(_ reason: SASLAuthenticationFailure.Reason, _ detail: String) -> SASLServerStep {
        finished = true
        return .failure(SASLAuthenticationFailure(reason: reason, clientMessage: SASLServerMechanisms.invalidCredentialsMessage(.gssapi),
                                                  detail: "GSSAPI: \(detail)"))
    }

    private func run(_ call: (OpaquePointer?, inout UnsafePointer<CChar>?, inout UInt32) -> Int32) -> SASLServerStep {
        let outcome = CyrusSASL.lock.withLock { _ -> (Int32, [UInt8], String?, String, Int32) in
            // GSSAPI reads no credentials from Rampart: the auxprop plugin gets no context.
            rampart_sasl_set_lookup_context(nil)
            var output: UnsafePointer<CChar>?
            var outputLength: UInt32 = 0
            let result = call(connection, &output, &outputLength)
            let bytes = output.map { Array(UnsafeRawBufferPointer(start: $0, count: Int(outputLength))) } ?? []
            var peer: String?
            var peerStatus: Int32 = 0
            if result == SASL_OK {
                var buffer = [CChar](repeating: 0, count: 1024)
                peerStatus = rampart_sasl_gss_peer_name(UnsafeMutableRawPointer(connection), &buffer, UInt32(buffer.count))
                if peerStatus == 0 {
                    peer = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                }
            }
            let detail = result == SASL_OK || result == SASL_CONTINUE ? "" : String(cString: sasl_errdetail(connection))
            return (result, bytes, peer, detail, peerStatus)
        }
        let (result, bytes, peer, detail, peerStatus) = outcome
        switch result {
        case SASL_CONTINUE:
            return .challenge(bytes)
        case SASL_OK:
            finished = true
            guard let peer else { return fail(.internalError, "Cyrus reported success without the client's Kerberos name (\(peerStatus))") }
            do {
                return .success(SASLIdentity(username: try settings.rules.shortName(peer)), finalData: bytes)
            } catch {
                return fail(.invalidCredentials, "principal \(peer): \(error)")
            }
        case SASL_BADPROT:
            return fail(.malformedMessage, detail)
        default:
            return fail(.invalidCredentials, detail)
        }
    }
}
