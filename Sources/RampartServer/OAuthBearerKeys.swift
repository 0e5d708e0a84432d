import Foundation
import RampartAuthorizer
import RampartSASL
import Synchronization

/// The JWKS file OAUTHBEARER tokens are verified against (`sasl.oauthbearer.jwks.endpoint.url`, a
/// `file:` URL — the broker fetches nothing over the network). Loaded at start-up (a missing or bad
/// file stops it) and reloaded like the TLS files: when its fingerprint changes (polled every
/// `rampart.ssl.reload.interval.ms`) or on SIGHUP. A new file that does not parse keeps the previous
/// keys in use and is logged.
final class OAuthBearerKeys: Sendable {
    let path: String
    private struct State {
        var keys: JSONWebKeySet
        var fingerprint: FileStamp
    }
    private let state: Mutex<State>

    /// The path of a `file:` URL (`file:///etc/rampart/jwks.json` or `file:/etc/…`); other schemes are
    /// refused naming the key.
    static func path(fromURL url: String, key: String) throws -> String {
        guard url.hasPrefix("file:") else {
            throw BrokerServer.StartupError(description: "\(key): '\(url)' is not a file: URL; Rampart reads the JWKS from a local file and never fetches keys over the network")
        }
        var path = String(url.dropFirst("file:".count))
        if path.hasPrefix("//") {
            path.removeFirst(2)
            guard path.hasPrefix("/") else {
                throw BrokerServer.StartupError(description: "\(key): '\(url)' names a host; use file:///absolute/path")
            }
        }
        guard path.hasPrefix("/") else { throw BrokerServer.StartupError(description: "\(key): '\(url)' is not an absolute file path") }
        return path.removingPercentEncoding ?? path
    }

    init(path: String, key: String) throws {
        self.path = path
        let fingerprint = FileStamp(path)
        do {
            state = Mutex(State(keys: try Self.load(path), fingerprint: fingerprint))
        } catch {
            throw BrokerServer.StartupError(description: "\(key): \(error)")
        }
    }

    /// The keys in use.
    var current: JSONWebKeySet { state.withLock { $0.keys } }

    static func load(_ path: String) throws -> JSONWebKeySet {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw BrokerServer.StartupError(description: "cannot read JWKS file \(path): \(error.localizedDescription)")
        }
        let keys: JSONWebKeySet
        do {
            keys = try JSONWebKeySet(json: Array(data))
        } catch {
            throw BrokerServer.StartupError(description: "JWKS file \(path): \(error)")
        }
        guard !keys.keys.isEmpty else {
            throw BrokerServer.StartupError(description: "JWKS file \(path) holds no RS256 or ES256 signature key")
        }
        return keys
    }

    enum ReloadOutcome: Equatable {
        case unchanged
        case reloaded(keys: Int)
        case failed(String)
    }

    /// Re-reads the file when it changed, or always with `force`.
    func reload(force: Bool) -> ReloadOutcome {
        let fingerprint = FileStamp(path)
        guard force || state.withLock({ $0.fingerprint != fingerprint }) else { return .unchanged }
        do {
            let keys = try Self.load(path)
            state.withLock { $0 = State(keys: keys, fingerprint: fingerprint) }
            return .reloaded(keys: keys.keys.count)
        } catch {
            // Remember the fingerprint: the same bad file is reported once, not at every poll.
            state.withLock { $0.fingerprint = fingerprint }
            return .failed("\(error)")
        }
    }
}
