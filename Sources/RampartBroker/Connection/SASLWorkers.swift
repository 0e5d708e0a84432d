import Dispatch
import NIOCore
import RampartSASL
import Synchronization

/// The threads SASL mechanisms run on, away from Swift's cooperative pool. A mechanism step can cost
/// milliseconds of CPU (PLAIN derives the key with PBKDF2, thousands of HMAC rounds; GSSAPI reads the
/// keytab): run on the cooperative pool, which has one thread per core, a burst of logins — or an
/// attacker's stream of them — would hold every thread the broker's requests need. Here they queue on
/// their own threads (half the cores, at least one) and the rest of the broker goes on.
public final class SASLWorkers: Sendable {
    private let queues: [DispatchQueue]
    private let next = Mutex(0)

    /// `threads` serial queues (default: half the cores, at least one).
    public init(threads: Int = max(1, System.coreCount / 2)) {
        queues = (0..<max(1, threads)).map { DispatchQueue(label: "rampart.sasl.\($0)") }
    }

    /// Runs the mechanism's next step (`start` for the first client message) on a SASL thread. The
    /// mechanism belongs to one connection, which sends it one message at a time and waits for the
    /// answer, so it is never used by two threads at once.
    func step(_ owned: OwnedMechanism, started: Bool, token: [UInt8]) async -> SASLServerStep {
        let queue = next.withLock { index in
            defer { index = (index + 1) % queues.count }
            return queues[index]
        }
        return await withCheckedContinuation { continuation in
            queue.async {
                let mechanism = owned.mechanism
                continuation.resume(returning: started ? mechanism.step(response: token) : mechanism.start(clientFirst: token))
            }
        }
    }

    /// A mechanism handed to a SASL thread for one step while its connection waits (see `step`).
    struct OwnedMechanism: @unchecked Sendable {
        let mechanism: any SASLServerMechanism
    }
}
