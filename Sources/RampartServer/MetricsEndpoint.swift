import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// The operations HTTP endpoint (`rampart.metrics.listener`): `GET /metrics` (Prometheus text format)
/// and `GET /health` (200 `{"status":"ok"}`, or 503 with the reason). On a non-loopback address every
/// request must carry `Authorization: Bearer <token>` with the token of `rampart.metrics.token.file`.
public final class MetricsEndpoint: Sendable {
    /// What `/health` reports.
    public enum Health: Sendable, Equatable {
        case ok
        /// Not ready or degraded: the reasons, one per problem (e.g. an offline partition).
        case unavailable([String])
    }

    /// Where the endpoint listens and what it requires.
    public struct Settings: Sendable, Equatable {
        public var host: String
        public var port: Int
        /// Required as a bearer token on every request when set.
        public var token: String?

        public init(host: String, port: Int, token: String?) {
            self.host = host
            self.port = port
            self.token = token
        }

        /// Parses `rampart.metrics.listener` (`host:port`, `[v6]:port`) and reads the token file. A
        /// non-loopback address without a token file, or a token file readable by others, is refused.
        public static func parse(listener: String, tokenFile: String?) throws -> Settings {
            let trimmed = listener.trimmingCharacters(in: .whitespaces)
            guard let colon = trimmed.lastIndex(of: ":"), let port = Int(trimmed[trimmed.index(after: colon)...]), (0...65535).contains(port) else {
                throw BrokerServer.StartupError(description: "rampart.metrics.listener: '\(listener)' is not host:port")
            }
            var host = String(trimmed[..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard !host.isEmpty else {
                throw BrokerServer.StartupError(description: "rampart.metrics.listener: '\(listener)' names no host (use 127.0.0.1:\(port) or an explicit address)")
            }
            let token = try tokenFile.map(readToken)
            if token == nil && !isLoopback(host) {
                throw BrokerServer.StartupError(description: "rampart.metrics.listener: \(host) is not a loopback address; set rampart.metrics.token.file (a bearer token in a file of mode 0600) to expose the endpoint there")
            }
            return Settings(host: host, port: port, token: token)
        }

        /// Whether `host` only accepts connections from this machine.
        public static func isLoopback(_ host: String) -> Bool {
            host == "localhost" || host == "::1" || host.hasPrefix("127.")
        }

        /// Reads a bearer token: the file must be owned-only (mode 0600 or stricter) and not empty.
        static func readToken(_ path: String) throws -> String {
            var info = stat()
            guard stat(path, &info) == 0 else {
                throw BrokerServer.StartupError(description: "rampart.metrics.token.file: cannot read \(path): \(String(cString: strerror(errno)))")
            }
            guard info.st_mode & 0o077 == 0 else {
                throw BrokerServer.StartupError(description: "rampart.metrics.token.file: \(path) has mode \(String(info.st_mode & 0o777, radix: 8)); it must be readable by its owner only (chmod 600)")
            }
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                throw BrokerServer.StartupError(description: "rampart.metrics.token.file: cannot read \(path) as UTF-8")
            }
            let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !token.isEmpty, !token.contains(where: { $0.isWhitespace }) else {
                throw BrokerServer.StartupError(description: "rampart.metrics.token.file: \(path) must hold one token (non-empty, no spaces)")
            }
            return token
        }
    }

    private let channel: Channel

    /// The address bound (its port resolved when 0 was asked for).
    public var localAddress: SocketAddress? { channel.localAddress }

    private init(channel: Channel) {
        self.channel = channel
    }

    /// Binds the endpoint. `scrape` renders the metrics; `health` decides `/health`.
    public static func start(settings: Settings, group: EventLoopGroup,
                             scrape: @escaping @Sendable () async -> [UInt8],
                             health: @escaping @Sendable () async -> Health) async throws -> MetricsEndpoint {
        let token = settings.token
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline(withErrorHandling: true).flatMap {
                    channel.pipeline.addHandler(MetricsHTTPHandler(token: token, scrape: scrape, health: health))
                }
            }
        do {
            let channel = try await bootstrap.bind(host: settings.host, port: settings.port).get()
            return MetricsEndpoint(channel: channel)
        } catch {
            throw BrokerServer.StartupError(description: "rampart.metrics.listener: cannot bind \(settings.host):\(settings.port): \(error)")
        }
    }

    /// Stops listening.
    public func close() async {
        try? await channel.close()
    }
}

/// One HTTP/1.1 connection to the endpoint: answers each request once its end arrives.
final class MetricsHTTPHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let token: String?
    private let scrape: @Sendable () async -> [UInt8]
    private let health: @Sendable () async -> MetricsEndpoint.Health
    private var head: HTTPRequestHead?
    /// The request being answered is a HEAD: headers only.
    private var headOnly = false

    init(token: String?, scrape: @escaping @Sendable () async -> [UInt8], health: @escaping @Sendable () async -> MetricsEndpoint.Health) {
        self.token = token
        self.scrape = scrape
        self.health = health
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
        case .body:
            break
        case .end:
            guard let head else { return }
            self.head = nil
            respond(to: head, context: context)
        }
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let keepAlive = head.isKeepAlive
        self.headOnly = head.method == .HEAD
        guard authorized(head) else {
            write(context, status: .unauthorized, type: "application/json", body: Array(#"{"status":"error","reason":"a bearer token is required"}"#.utf8),
                  extra: [("WWW-Authenticate", "Bearer")], keepAlive: keepAlive)
            return
        }
        guard head.method == .GET || head.method == .HEAD else {
            write(context, status: .methodNotAllowed, type: "text/plain", body: Array("GET only\n".utf8), extra: [("Allow", "GET, HEAD")], keepAlive: keepAlive)
            return
        }
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let scrape = self.scrape, health = self.health
        switch path {
        case "/metrics":
            context.eventLoop.makeFutureWithTask { await scrape() }.whenSuccess { body in
                let (handler, context) = loopBound.value
                handler.write(context, status: .ok, type: "text/plain; version=0.0.4; charset=utf-8", body: body, keepAlive: keepAlive)
            }
        case "/health":
            context.eventLoop.makeFutureWithTask { await health() }.whenSuccess { result in
                let (handler, context) = loopBound.value
                let (status, body) = Self.healthBody(result)
                handler.write(context, status: status, type: "application/json", body: Array(body.utf8), keepAlive: keepAlive)
            }
        default:
            write(context, status: .notFound, type: "text/plain", body: Array("not found: try /metrics or /health\n".utf8), keepAlive: keepAlive)
        }
    }

    /// The `/health` answer: 200 `{"status":"ok"}` or 503 `{"status":"unavailable","reasons":[…]}`.
    static func healthBody(_ health: MetricsEndpoint.Health) -> (HTTPResponseStatus, String) {
        switch health {
        case .ok:
            return (.ok, #"{"status":"ok"}"#)
        case .unavailable(let reasons):
            let list = reasons.map { "\"\(JSONText.escape($0))\"" }.joined(separator: ",")
            let first = reasons.first.map(JSONText.escape) ?? "unavailable"
            return (.serviceUnavailable, #"{"status":"unavailable","reason":""# + first + #"","reasons":["# + list + "]}")
        }
    }

    private func authorized(_ head: HTTPRequestHead) -> Bool {
        guard let token else { return true }
        guard let value = head.headers.first(name: "Authorization"), value.lowercased().hasPrefix("bearer ") else { return false }
        let offered = Array(value.dropFirst(7).trimmingCharacters(in: .whitespaces).utf8)
        let expected = Array(token.utf8)
        // Constant time in the token's content.
        guard offered.count == expected.count else { return false }
        var difference: UInt8 = 0
        for (a, b) in zip(offered, expected) { difference |= a ^ b }
        return difference == 0
    }

    private func write(_ context: ChannelHandlerContext, status: HTTPResponseStatus, type: String, body: [UInt8],
                       extra: [(String, String)] = [], keepAlive: Bool) {
        var headers = HTTPHeaders([("Content-Type", type), ("Content-Length", "\(body.count)"), ("Cache-Control", "no-store")])
        headers.add(contentsOf: extra)
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        if !headOnly {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}

/// JSON string escaping, shared by `/health` answers and the JSON log lines (RampartCLI's `LineLogHandler`).
package enum JSONText {
    /// JSON string content: quotes, backslashes and control characters (`isControl`) escaped.
    package static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where isControl(scalar): out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// C0/C1 controls, DEL, and the Unicode line/paragraph separators (some viewers break lines there).
    package static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029
    }
}
