import NIOCore
import Synchronization

/// How many SASL authentications succeeded and failed, by mechanism and reason: a plain value the
/// metrics endpoint can export (Kafka's `successful-authentication-total`, `failed-authentication-total`,
/// `successful-reauthentication-total`, `expired-connections-killed-count`, broken down further).
public struct AuthenticationCounters: Sendable, Equatable {
    /// A failure's mechanism (`unknown` for a name the broker does not serve) and reason: the raw value
    /// of `SASLAuthenticationFailure.Reason`, or one of the broker's own (`unsupported_mechanism`,
    /// `illegal_state`, `backoff`, `principal_changed`, `mechanism_changed`).
    public struct FailureKey: Hashable, Sendable, CustomStringConvertible {
        public var mechanism: String
        public var reason: String
        public init(mechanism: String, reason: String) {
            self.mechanism = mechanism
            self.reason = reason
        }
        public var description: String { "\(mechanism)/\(reason)" }
    }

    /// Successful authentications per mechanism.
    public var successes: [String: Int] = [:]
    /// Successful re-authentications (KIP-368) per mechanism.
    public var reauthentications: [String: Int] = [:]
    /// Failures per mechanism and reason.
    public var failures: [FailureKey: Int] = [:]
    /// Backoffs started (a source address reached the failure threshold).
    public var backoffsStarted = 0
    /// Connections closed because their session expired without re-authentication.
    public var expiredSessionsClosed = 0

    public init() {}

    /// All failures, whatever the mechanism and reason.
    public var totalFailures: Int { failures.values.reduce(0, +) }
}

/// Per-source-address backoff after repeated failed authentications (`rampart.auth.failure.*`).
public struct AuthenticationBackoffSettings: Sendable, Equatable {
    /// Failures from one address within `windowMs` that start a backoff; 0 turns backoff off.
    public var threshold: Int
    /// The window failures are counted in.
    public var windowMs: Int64
    /// How long, once started, every authentication from that address is refused without running the
    /// mechanism.
    public var backoffMs: Int64

    public init(threshold: Int = 20, windowMs: Int64 = 60_000, backoffMs: Int64 = 60_000) {
        self.threshold = threshold
        self.windowMs = windowMs
        self.backoffMs = backoffMs
    }

    /// No backoff.
    public static let off = AuthenticationBackoffSettings(threshold: 0)
}

/// Watches authentication outcomes for one broker (every SASL listener shares it): keeps
/// `AuthenticationCounters`, and after `threshold` failed authentications from one source address
/// within the window refuses further attempts from it for the backoff time — they are answered
/// SASL_AUTHENTICATION_FAILED without the mechanism running (no PBKDF2, no signature check), after the
/// usual failed-authentication delay. Re-authentication of an established session is not refused (it
/// cannot change the principal), but its failures count.
///
/// The table of addresses is bounded: once it holds `maxTrackedAddresses`, addresses whose failures have
/// aged out and whose backoff has ended are forgotten, then the least recently seen not in backoff.
public final class AuthenticationMonitor: Sendable {
    private struct Address {
        /// Times of the failures inside the window, oldest first (at most `threshold`).
        var failures: [NIODeadline] = []
        var blockedUntil: NIODeadline?
        var lastSeen: NIODeadline
    }

    private struct State {
        var counters = AuthenticationCounters()
        var addresses: [String: Address] = [:]
    }

    public let settings: AuthenticationBackoffSettings
    private let now: @Sendable () -> NIODeadline
    private let maxTrackedAddresses: Int
    private let state = Mutex(State())

    /// The answer to an attempt refused during a backoff.
    public static let backoffMessage = "Authentication failed: too many failed authentication attempts from this address; retry later"

    /// `now` is for tests.
    public init(settings: AuthenticationBackoffSettings = AuthenticationBackoffSettings(), maxTrackedAddresses: Int = 10_000,
                now: @escaping @Sendable () -> NIODeadline = { .now() }) {
        self.settings = settings
        self.maxTrackedAddresses = max(1, maxTrackedAddresses)
        self.now = now
    }

    /// A copy of the counters.
    public var counters: AuthenticationCounters { state.withLock { $0.counters } }

    /// Whether attempts from `host` are refused right now.
    public func isBackingOff(_ host: String) -> Bool {
        guard settings.threshold > 0 else { return false }
        let now = now()
        return state.withLock { state in
            guard let until = state.addresses[host]?.blockedUntil else { return false }
            return now < until
        }
    }

    /// Counts a successful authentication (or re-authentication).
    public func recordSuccess(mechanism: String, reauthentication: Bool) {
        state.withLock { state in
            if reauthentication {
                state.counters.reauthentications[mechanism, default: 0] += 1
            } else {
                state.counters.successes[mechanism, default: 0] += 1
            }
        }
    }

    /// Counts a failure; with `countsTowardBackoff`, it may start a backoff for `host`. Returns whether
    /// it did.
    @discardableResult
    public func recordFailure(host: String, mechanism: String, reason: String, countsTowardBackoff: Bool = true) -> Bool {
        let now = now()
        return state.withLock { state in
            state.counters.failures[AuthenticationCounters.FailureKey(mechanism: mechanism, reason: reason), default: 0] += 1
            guard countsTowardBackoff, settings.threshold > 0 else { return false }
            if state.addresses[host] == nil, state.addresses.count >= maxTrackedAddresses { evict(&state, now: now) }
            var address = state.addresses[host] ?? Address(lastSeen: now)
            address.lastSeen = now
            let windowStart = now - .milliseconds(settings.windowMs)
            address.failures.removeAll { $0 < windowStart }
            address.failures.append(now)
            var started = false
            if address.failures.count >= settings.threshold, address.blockedUntil.map({ $0 <= now }) ?? true {
                address.blockedUntil = now + .milliseconds(settings.backoffMs)
                address.failures.removeAll()
                state.counters.backoffsStarted += 1
                started = true
            }
            state.addresses[host] = address
            return started
        }
    }

    /// Counts a connection closed for an expired session.
    public func recordExpiredSession() {
        state.withLock { $0.counters.expiredSessionsClosed += 1 }
    }

    /// How many addresses are tracked (tests).
    public var trackedAddresses: Int { state.withLock { $0.addresses.count } }

    private func evict(_ state: inout State, now: NIODeadline) {
        let windowStart = now - .milliseconds(settings.windowMs)
        state.addresses = state.addresses.filter { _, address in
            (address.blockedUntil.map { $0 > now } ?? false) || address.failures.contains { $0 >= windowStart }
        }
        // Still full: forget the least recently seen address not in backoff (an attacker spreading over
        // many addresses must not push the ones in backoff out), else the least recently seen.
        while state.addresses.count >= maxTrackedAddresses {
            let candidates = state.addresses.filter { !($0.value.blockedUntil.map { $0 > now } ?? false) }
            let pool = candidates.isEmpty ? state.addresses : candidates
            guard let oldest = pool.min(by: { $0.value.lastSeen < $1.value.lastSeen })?.key else { break }
            state.addresses[oldest] = nil
        }
    }
}
