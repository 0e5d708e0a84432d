import KafkaProtocol

/// SaslHandshake (key 17) outside an authentication phase: on a listener without SASL, or after the
/// connection has authenticated when it may not re-authenticate (re-authentication off, or less than
/// a second after the last one began). Kafka answers ILLEGAL_SASL_STATE. During authentication and
/// re-authentication (KIP-368) on a SASL listener the request never reaches the registry:
/// `SaslServerAuthenticator` serves it.
struct SaslHandshakeHandler: KafkaAPIHandler {
    typealias Request = SaslHandshakeRequest
    let supportedVersions: ClosedRange<Int16> = 0...1

    func handle(_ request: SaslHandshakeRequest, context: RequestContext) async -> SaslHandshakeResponse? {
        errorResponse(request, .illegalSaslState)
    }

    func errorResponse(_ request: SaslHandshakeRequest, _ error: KafkaErrorCode) -> SaslHandshakeResponse {
        SaslHandshakeResponse(errorCode: error.rawValue, mechanisms: [])
    }
}
