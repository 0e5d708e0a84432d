import NIOCore

/// A request decoded from one frame: its header and its body.
public struct DecodedKafkaRequest: Sendable {
    /// The request header (version `headerVersion`).
    public var header: RequestHeader
    /// 0, 1 or 2, as `KafkaApiKey.requestHeaderVersion(apiVersion:)` chose it.
    public var headerVersion: Int16
    public var apiKey: KafkaApiKey
    public var apiVersion: Int16 { header.requestApiVersion }
    public var correlationId: Int32 { header.correlationId }
    /// The body; cast it to the API's request type (`body as? ProduceRequest`).
    public var body: any KafkaRequestMessage
    /// Bytes left after the body (ignored, as Kafka does).
    public var trailingBytes = 0

    public init(header: RequestHeader, headerVersion: Int16, apiKey: KafkaApiKey, body: any KafkaRequestMessage) {
        self.header = header
        self.headerVersion = headerVersion
        self.apiKey = apiKey
        self.body = body
    }
}

/// A request the broker cannot decode because it does not know the API or the version. The header's
/// fixed prefix was read, so the broker can still answer (for ApiVersions, with UNSUPPORTED_VERSION and
/// a v0 body) using `correlationId`.
public enum KafkaRequestDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The API key is not one of `KafkaApiKey`.
    case unknownApiKey(apiKey: Int16, apiVersion: Int16, correlationId: Int32)
    /// The API exists but not at this version.
    case unsupportedVersion(apiKey: KafkaApiKey, apiVersion: Int16, correlationId: Int32)

    public var correlationId: Int32 {
        switch self {
        case .unknownApiKey(_, _, let id), .unsupportedVersion(_, _, let id): return id
        }
    }

    public var description: String {
        switch self {
        case .unknownApiKey(let key, let version, _): return "unknown API key \(key) (version \(version))"
        case .unsupportedVersion(let key, let version, _): return "\(key.name) does not support version \(version)"
        }
    }
}

/// Decodes request frames on the broker side.
public enum KafkaRequestDecoder {
    /// Decodes a request frame body (the bytes after the 4-byte size): the request header, at the
    /// version the API and API version call for, then the body.
    ///
    /// Throws `KafkaRequestDecodingError` for an unknown API key or version, `KafkaProtocolError` for
    /// malformed input. Bytes left over after the body are counted in `trailingBytes`, not refused. `bytes`/`records` fields of the body
    /// share storage with `frame`.
    public static func decode(frame: ByteBuffer) throws -> DecodedKafkaRequest {
        var buffer = frame
        // The first three header fields are the same in every header version.
        guard let rawKey = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: Int16.self),
              let apiVersion = buffer.getInteger(at: buffer.readerIndex + 2, endianness: .big, as: Int16.self),
              let correlationId = buffer.getInteger(at: buffer.readerIndex + 4, endianness: .big, as: Int32.self)
        else {
            throw KafkaProtocolError.truncated("request header")
        }
        guard let apiKey = KafkaApiKey(rawValue: rawKey) else {
            throw KafkaRequestDecodingError.unknownApiKey(apiKey: rawKey, apiVersion: apiVersion, correlationId: correlationId)
        }
        let requestType = apiKey.requestType
        guard requestType.validVersions.contains(apiVersion) else {
            throw KafkaRequestDecodingError.unsupportedVersion(apiKey: apiKey, apiVersion: apiVersion, correlationId: correlationId)
        }
        let headerVersion = apiKey.requestHeaderVersion(apiVersion: apiVersion)
        let header = try RequestHeader(from: &buffer, version: headerVersion)
        let body = try requestType.init(from: &buffer, version: apiVersion)
        // Bytes after the body are ignored, as Kafka's own request parsing does: librdkafka ≥ 2.x writes
        // three stray zero bytes after an all-topics Metadata v9+ request (an unfinalised array-count
        // placeholder), and Kafka answers it. Callers may log `trailingBytes`.
        var decoded = DecodedKafkaRequest(header: header, headerVersion: headerVersion, apiKey: apiKey, body: body)
        decoded.trailingBytes = buffer.readableBytes
        return decoded
    }
}

extension KafkaRequestMessage {
    /// Appends the request header (at the version the API calls for) and the body: a frame body
    /// without its size prefix.
    public func encodeRequest(
        version: Int16, correlationId: Int32, clientId: String?, to buffer: inout ByteBuffer
    ) throws {
        guard Self.validVersions.contains(version) else {
            throw KafkaProtocolError.unsupportedVersion(Self.messageName, version)
        }
        let headerVersion = Self.apiKey.requestHeaderVersion(apiVersion: version)
        let header = RequestHeader(
            requestApiKey: Self.apiKey.rawValue, requestApiVersion: version, correlationId: correlationId,
            clientId: clientId)
        let start = buffer.writerIndex
        do {
            try header.encode(to: &buffer, version: headerVersion)
            try self.encode(to: &buffer, version: version)
        } catch {
            buffer.moveWriterIndex(to: start)
            throw error
        }
    }
}

extension KafkaResponseMessage {
    /// Appends the response header (v0 for ApiVersions and non-flexible versions, v1 otherwise) and the
    /// body: a frame body without its size prefix.
    public func encodeResponse(version: Int16, correlationId: Int32, to buffer: inout ByteBuffer) throws {
        guard Self.validVersions.contains(version) else {
            throw KafkaProtocolError.unsupportedVersion(Self.messageName, version)
        }
        let headerVersion = Self.apiKey.responseHeaderVersion(apiVersion: version)
        let start = buffer.writerIndex
        do {
            try ResponseHeader(correlationId: correlationId).encode(to: &buffer, version: headerVersion)
            try self.encode(to: &buffer, version: version)
        } catch {
            buffer.moveWriterIndex(to: start)
            throw error
        }
    }

    /// Decodes a response frame body (header, then body at `version`) and requires it to end there.
    public static func decodeResponse(
        from frame: ByteBuffer, version: Int16
    ) throws -> (header: ResponseHeader, body: Self) {
        var buffer = frame
        let header = try ResponseHeader(from: &buffer, version: apiKey.responseHeaderVersion(apiVersion: version))
        let body = try Self(from: &buffer, version: version)
        guard buffer.readableBytes == 0 else {
            throw KafkaProtocolError.trailingBytes("\(messageName) v\(version)", buffer.readableBytes)
        }
        return (header, body)
    }
}
