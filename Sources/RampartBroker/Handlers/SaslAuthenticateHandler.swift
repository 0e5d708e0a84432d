import KafkaProtocol

/// SaslAuthenticate (key 36) outside an authentication phase (see `SaslHandshakeHandler`): Kafka's
/// ILLEGAL_SASL_STATE with its message.
struct SaslAuthenticateHandler: KafkaAPIHandler {
    typealias Request = SaslAuthenticateRequest
    let supportedVersions: ClosedRange<Int16> = 0...2

    func handle(_ request: SaslAuthenticateRequest, context: RequestContext) async -> SaslAuthenticateResponse? {
        errorResponse(request, .illegalSaslState)
    }

    func errorResponse(_ request: SaslAuthenticateRequest, _ error: KafkaErrorCode) -> SaslAuthenticateResponse {
        SaslAuthenticateResponse(
            errorCode: error.rawValue,
            errorMessage: error == .illegalSaslState ? "SaslAuthenticate request received after successful authentication" : nil)
    }
}
