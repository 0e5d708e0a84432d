import KafkaProtocol

/// ApiVersions (key 18): the APIs and versions this broker serves, from the registry.
struct ApiVersionsHandler: KafkaAPIHandler {
    typealias Request = ApiVersionsRequest
    let supportedVersions: ClosedRange<Int16> = 0...4
    let apiVersions: [ApiVersionsResponse.ApiVersion]

    func handle(_ request: ApiVersionsRequest, context: RequestContext) async -> ApiVersionsResponse? {
        if context.apiVersion >= 3 && !Self.isValid(request) {
            return errorResponse(request, .invalidRequest)
        }
        return ApiVersionsResponse(errorCode: 0, apiKeys: apiVersions, throttleTimeMs: 0)
    }

    func errorResponse(_ request: ApiVersionsRequest, _ error: KafkaErrorCode) -> ApiVersionsResponse {
        ApiVersionsResponse(errorCode: error.rawValue, apiKeys: apiVersions)
    }

    /// v3+ carries the client's software name and version; Kafka checks them against
    /// `[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?`.
    static func isValid(_ request: ApiVersionsRequest) -> Bool {
        func valid(_ s: String) -> Bool {
            let scalars = Array(s.unicodeScalars)
            guard let first = scalars.first, let last = scalars.last else { return false }
            func alnum(_ c: Unicode.Scalar) -> Bool { c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c)) }
            return alnum(first) && alnum(last) && scalars.allSatisfy { alnum($0) || $0 == "-" || $0 == "." }
        }
        return valid(request.clientSoftwareName) && valid(request.clientSoftwareVersion)
    }
}
